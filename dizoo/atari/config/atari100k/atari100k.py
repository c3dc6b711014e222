"""The Atari 100k benchmark (Kaiser et al. 2019; the protocol of Dopamine's labs/atari_100k and rliable): configs
for DrQ(eps) and data-efficient Rainbow (DER) on any game, through :func:`atari100k_config`. A game's file (e.g.
pong_drq_eps_config.py) calls it; ``ding -m serial -c <file> -s 0`` runs the whole protocol: 100k agent steps of
training, then one evaluation of 100 episodes.

The protocol (env and evaluator keys, the same for every algorithm; sources: Dopamine's DER.gin / DrQ_eps.gin,
"Atari 100K benchmark doesn't use sticky actions", and BBF.gin for the no-ops):
    repeat_action_probability=0.0         no sticky actions
    episode_life=True                     a life loss ends the training episode (evaluation plays whole games:
                                          the evaluator's envs ignore episode_life and reward clipping)
    stack_reset_on_life_loss=True         in evaluation a life loss restarts the frame stack, the game going on:
                                          Dopamine's Runner calls agent.begin_episode at every life loss,
                                          evaluation included (terminal_on_life_loss = True in both phases)
    max_episode_frames=108_000            27,000 agent steps per episode (frame skip 4)
    noop_max=30                           up to 30 no-op frames at each reset
    max_env_step=100_000                  100k agent steps (400k frames) of training, then the run ends
    n_evaluator_episode=100               one evaluation, after training, of 100 episodes (Dopamine:
                                          MaxEpisodeEvalRunner.num_eval_episodes = 100)
    eval.eps=0.001                        evaluation epsilon (Dopamine: epsilon_eval = 0.001)
One difference from Dopamine: FIRE is pressed at each game's reset (ding's fire_reset, as DeepMind's and DI-engine's
wrappers do; Dopamine's preprocessing does not), which spares Breakout agents from learning to serve at the start.
DrQ(eps)'s augmentation is Dopamine's: a random shift (pad 4, offsets in [0, 8]; Dopamine draws [0, 7]), then each
image times 1 + 0.05 clip(N(0,1), -2, 2) (SPR's intensity augmentation; runs started before commit 0a4d471 shifted only).
Dopamine's network (FullRainbowNetwork) pads its convolutions ('SAME': 21x21, 11x11, 11x11 maps, 7,744 features into
the 512 layer, ~1.7x the multiply-adds) and initialises every layer Xavier-uniform with zero biases; the shipped
configs keep the Nature CNN as published (no padding, 3,136 features) with torch's default init, which keeps an update
at 28-32 ms on the 2-core machine (the protocol's hour per game). Dopamine's network is two model keys away:
model.encoder_padding='same', model.init_type='xavier' (benchmarks/run_atari100k.py --set ... --label ...).
"""

from easydict import EasyDict

# the games of the benchmark that ding's Atari 100k configs ship, with the size of their minimal action sets
GAMES = {"Pong": 6, "Breakout": 4, "Qbert": 6, "Boxing": 18, "Freeway": 3, "MsPacman": 9}
ALGOS = ("drq_eps", "der")
TRAIN_ENV_STEPS = 100_000  # agent steps of training (Kaiser et al. 2019: 400k frames)
MIN_REPLAY = 1600  # env steps of uniformly random actions before the first update (DER, DrQ: min_replay_history)

# Each value's source: [DrQ] Kostrikov et al. 2020, App. (Atari 100k DQN settings); [DrQe] Agarwal et al. 2021,
# App. A.2 and Dopamine's labs/atari_100k/configs/DrQ_eps.gin (the runs the published DrQ(eps) scores come from);
# [DER] van Hasselt et al. 2019, App. (Table 1, data-efficient Rainbow); [DER.gin] Dopamine's DER.gin, where the
# DER paper does not say; [Rainbow] Hessel et al. 2018.
ALGO_KEYS = {
    "drq_eps": dict(
        type="dqn",
        model=dict(
            encoder_hidden_size_list=[32, 64, 64, 512],  # [DrQ] the Nature CNN: 32 8x8/4, 64 4x4/2, 64 3x3/1, 512
            dueling=True,  # [DrQ] dueling head
            head_layer_num=0,  # [DrQe] Dopamine's network: the 512 features go straight to the value/advantage layers
        ),
        nstep=10,  # [DrQ] multi-step return length 10
        discount_factor=0.99,  # [DrQ]
        priority=False,  # [DrQe] replay_scheme 'uniform'
        learn=dict(
            batch_size=32,  # [DrQ] minibatch 32
            learning_rate=0.0001,  # [DrQ] Adam, lr 1e-4
            adam_eps=0.00015,  # [DrQ] Adam epsilon 1.5e-4
            target_update_freq=1,  # [DrQ] target update period 1: the target is the online net before this step
            huber_kappa=1.0,  # [DrQe] Dopamine's non-distributional loss: Huber with threshold 1
            random_shift_pad=4,  # [DrQ] random shifts: pad 4, random 84x84 crop, obs and next obs independently
            random_intensity_scale=0.05,  # [DrQe] then each image times 1 + 0.05 clip(N(0,1), -2, 2) (SPR's)
        ),
        # [DrQe] training epsilon 1 for the first 1600 steps, then linearly to 0.01 over 5000 (DrQ: to 0.1)
        eps=dict(type="linear", start=1.0, end=0.01, decay=5000, warmup=MIN_REPLAY),
    ),
    "der": dict(
        type="rainbow",
        model=dict(
            encoder_hidden_size_list=[32, 64],  # [DER] conv 32 and 64 channels
            encoder_kernel_size=[5, 5],  # [DER] 5x5 filters
            encoder_stride=[5, 5],  # [DER] stride 5: 84x84 -> 16x16 -> 3x3, 576 features
            encoder_linear=False,  # [Rainbow] the flattened conv maps go straight to the dueling streams
            head_hidden_size=256,  # [DER] 256 hidden units (Rainbow's 512)
            head_layer_num=1,  # [Rainbow] one noisy hidden layer in each stream: 576 -> 256 -> atoms
            noise_sigma0=0.1,  # [DER] noisy nets parameter 0.1
            v_min=-10,  # [Rainbow] support [-10, 10] of 51 atoms
            v_max=10,
            n_atom=51,
        ),
        nstep=20,  # [DER] multi-step return length 20 (Dopamine's re-run: 10)
        discount_factor=0.99,  # [DER]
        priority=True,  # [DER] prioritised replay
        priority_IS_weight=True,
        learn=dict(
            batch_size=32,  # [DER] minibatch 32
            learning_rate=0.0001,  # [DER] Adam, lr 1e-4
            adam_eps=0.00015,  # [DER] Adam epsilon 1.5e-4
            target_update_freq=2000,  # [DER] target network update period: every 2000 updates
        ),
        replay=dict(
            alpha=0.5,  # [DER] priority exponent 0.5
            beta=0.4,  # [DER] priority correction 0.4 -> 1, annealed over training
            anneal_step=TRAIN_ENV_STEPS - MIN_REPLAY,  # one sample per update: beta reaches 1 at the last update
        ),
        # [DER.gin] epsilon 0.01 on top of the noise throughout: with noisy layers Dopamine's full Rainbow agent
        # replaces the linear schedule by identity_epsilon (epsilon_train), so DER.gin's decay period of 2000 has
        # no effect. The first 1600 steps are uniformly random all the same (random_collect_size).
        eps=dict(type="linear", start=0.01, end=0.01, decay=1),
    ),
}


def atari100k_config(game: str, algo: str) -> tuple[EasyDict, EasyDict]:
    """DI-engine's two config dicts for ``algo`` ('drq_eps' or 'der') on ``game`` under the Atari 100k protocol
    (a new pair on every call).

    :param game: the game as in its env id, e.g. "MsPacman" for "MsPacmanNoFrameskip-v4" (a key of :data:`GAMES`).
    :param algo: 'drq_eps' (DrQ(eps): double DQN, dueling, 10-step returns, random shifts, Agarwal et al. 2021) or
        'der' (data-efficient Rainbow, van Hasselt et al. 2019); :data:`ALGO_KEYS` holds each one's keys.
    :return: (main_config, create_config); ``exp_name`` is "<game>_<algo>_seed0" in lower case.
    """
    if game not in GAMES:
        raise ValueError(f"atari100k_config: game {game!r} is not one of {sorted(GAMES)}")
    if algo not in ALGO_KEYS:
        raise ValueError(f"atari100k_config: algo {algo!r} is not one of {list(ALGO_KEYS)}")
    keys = ALGO_KEYS[algo]
    learn = dict(
        update_per_collect=1,  # [DrQ, DER] replay period: one update per agent step (with n_sample 1, one env)
        **keys["learn"],
    )
    main_config = dict(
        exp_name=f"{game.lower()}_{algo}_seed0",
        max_env_step=TRAIN_ENV_STEPS,  # the protocol: 100k agent steps of training
        env=dict(
            collector_env_num=1,  # [DrQ, DER] one env, as the published agents (one update per agent step)
            evaluator_env_num=10,
            n_evaluator_episode=100,  # the protocol: 100 evaluation episodes after training
            stop_value=None,  # never stop early: the protocol trains the full 100k steps
            env_id=f"{game}NoFrameskip-v4",
            frame_stack=4,  # [DrQ, DER] 4 grey 84x84 frames
            episode_life=True,  # the protocol: a life loss is terminal in training only
            stack_reset_on_life_loss=True,  # the protocol: evaluation restarts the agent's stack at a life loss
            clip_rewards=True,  # [DrQ, DER] rewards clipped to [-1, 1] in training; evaluation scores raw
            noop_max=30,  # the protocol: up to 30 no-op frames at reset
            repeat_action_probability=0.0,  # the protocol: no sticky actions
            max_episode_frames=108_000,  # the protocol: 27,000 agent steps per episode
            manager=dict(batch_size=0),  # one env: stepped synchronously
        ),
        policy=dict(
            cuda=True,  # falls back to the CPU (with a warning) when there is no GPU
            model=dict(obs_shape=[4, 84, 84], action_shape=GAMES[game], **keys["model"]),
            nstep=keys["nstep"],
            discount_factor=keys["discount_factor"],
            priority=keys["priority"],
            random_collect_size=MIN_REPLAY,  # [DrQ, DER] min replay size for sampling 1600 (random actions until then)
            learn=learn,
            collect=dict(n_sample=1),  # one agent step between updates
            eval=dict(
                eps=0.001,  # the protocol: evaluation epsilon 0.001
                evaluator=dict(eval_at_start=False, eval_freq=10**9),  # one evaluation, after training
            ),
            other=dict(
                eps=keys["eps"],
                replay_buffer=dict(replay_buffer_size=TRAIN_ENV_STEPS, **keys.get("replay", {})),  # keeps every step
            ),
        ),
    )
    if "priority_IS_weight" in keys:
        main_config["policy"]["priority_IS_weight"] = keys["priority_IS_weight"]
    create_config = dict(
        env=dict(type="atari", import_names=["dizoo.atari.envs.atari_env"]),
        env_manager=dict(type="atari"),
        policy=dict(type=keys["type"]),
    )
    return EasyDict(main_config), EasyDict(create_config)
