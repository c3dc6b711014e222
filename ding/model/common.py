"""Building blocks shared by the models: activations, normalisation and the MLP encoder."""

from __future__ import annotations

import ast
import copy
import difflib
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU, "elu": nn.ELU}
_NORMS = {"LN": nn.LayerNorm, "BN": nn.BatchNorm1d}

Activation = Union[None, str, nn.Module, type]  # what ``model.activation`` accepts (see make_activation)


def make_activation(activation: Activation) -> nn.Module:
    """A new activation module for one layer.

    ``activation`` is None (ReLU); a short name ('relu', 'tanh', 'gelu', 'silu', 'elu'); the name of a torch.nn
    module class, alone ('LeakyReLU') or with keyword arguments ('LeakyReLU(negative_slope=0.2)', literals only:
    the form a compiled config saves, see :func:`activation_name`); an ``nn.Module`` class (built without
    arguments); or an ``nn.Module`` instance (DI-engine configs write ``nn.Tanh()``), copied so that no two layers
    share one (a PReLU's weight stays per layer).
    """
    if activation is None:
        return nn.ReLU()
    if isinstance(activation, nn.Module):
        return copy.deepcopy(activation)
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation()
    if not isinstance(activation, str):
        raise ValueError(
            f"model.activation={activation!r} ({type(activation).__name__}) is not an activation: use a name such as "
            f"'relu' or 'tanh', a torch.nn module (nn.Tanh()) or module class (nn.Tanh)"
        )
    if activation.lower() in _ACTIVATIONS:
        return _ACTIVATIONS[activation.lower()]()
    name, kwargs = _parse_activation(activation)
    try:
        return getattr(nn, name)(**kwargs)
    except TypeError as err:
        raise ValueError(f"model.activation='{activation}': torch.nn.{name} {err}") from None


def _parse_activation(text: str) -> tuple[str, dict[str, Any]]:
    """``'Name'`` or ``'Name(key=literal, ...)'`` -> (a torch.nn module class name, keyword arguments); never
    evaluates code (the arguments are read with ast.literal_eval)."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
        if isinstance(node, ast.Name):
            name, kwargs = node.id, {}
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
            name = node.func.id
            kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
            if len(kwargs) != len(node.keywords):
                raise ValueError
        else:
            raise ValueError
    except (SyntaxError, ValueError):
        name, kwargs = "", {}
    module_cls = getattr(nn, name, None) if name else None
    if not (isinstance(module_cls, type) and issubclass(module_cls, nn.Module)):
        close = difflib.get_close_matches(text.split("(")[0], [*_ACTIVATIONS, *_TORCH_ACTIVATIONS], n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ValueError(
            f"model.activation='{text}' is not supported.{hint} Use one of {sorted(_ACTIVATIONS)}, the name of a "
            f"torch.nn activation ('LeakyReLU', 'LeakyReLU(negative_slope=0.2)'), or a torch.nn module"
        )
    return name, kwargs


# torch.nn's element-wise activations, for the suggestion of a misspelt name
_TORCH_ACTIVATIONS = (
    *("ReLU", "Tanh", "GELU", "SiLU", "ELU", "LeakyReLU", "PReLU", "Softplus", "Hardtanh", "Mish", "Sigmoid"),
    *("SELU", "CELU", "Hardswish", "Hardsigmoid", "ReLU6", "RReLU", "Softsign", "Tanhshrink", "LogSigmoid"),
)


def activation_name(activation: Activation) -> Optional[str]:
    """How a compiled config holds ``model.activation``: None or a string :func:`make_activation` reads back into an
    equal module. A module (instance or class) becomes its torch.nn class name, with its arguments where they
    differ from the defaults ('Tanh', 'LeakyReLU(negative_slope=0.2)'), so the saved total_config.py loads again.

    :raises ValueError: not an activation, an unknown name, or a module that a name cannot rebuild (a class of
        your own: pass the whole model instead, ``serial_pipeline(..., model=model)``).
    """
    if activation is None:
        return None
    if isinstance(activation, str):
        make_activation(activation)  # raises for an unknown name or bad arguments
        return activation
    module = make_activation(activation)  # raises for what is not an activation
    name = type(module).__name__
    if getattr(nn, name, None) is not type(module):
        raise ValueError(
            f"model.activation={module!r}: {type(module).__module__}.{name} is not a torch.nn module, so a saved "
            f"config cannot rebuild it; use a torch.nn activation, or build the model yourself and pass it: "
            f"serial_pipeline(cfg, model=model)"
        )
    text = repr(module)
    try:
        default = repr(type(module)())
    except TypeError:  # no defaults for its arguments (nn.Threshold)
        default = None
    spec = name if text == default else text
    try:
        rebuilt = repr(make_activation(spec))
    except ValueError:
        rebuilt = None
    if rebuilt != text:
        raise ValueError(
            f"model.activation={text}: the module's arguments cannot be written in a config file; use a name "
            f"such as 'LeakyReLU(negative_slope=0.2)' or pass the whole model: serial_pipeline(cfg, model=model)"
        )
    return spec


def mlp(
    in_size: int,
    hidden_sizes: Sequence[int],
    activation: Activation = None,
    norm_type: Optional[str] = None,
    dropout: Optional[float] = None,
    last_activation: bool = True,
    layer: Callable[[int, int], nn.Module] = nn.Linear,
) -> nn.Sequential:
    """Linear layers ``in_size -> hidden_sizes[0] -> ... -> hidden_sizes[-1]``, each followed by norm, act, dropout.
    ``layer(in_features, out_features)`` builds each linear layer (``NoisyLinear`` for a noisy net)."""
    if norm_type is not None and norm_type not in _NORMS:
        raise ValueError(f"model.norm_type='{norm_type}' is not supported; use None, 'LN' or 'BN'")
    layers: list[nn.Module] = []
    sizes = [in_size, *hidden_sizes]
    for i in range(len(hidden_sizes)):
        layers.append(layer(sizes[i], sizes[i + 1]))
        if i < len(hidden_sizes) - 1 or last_activation:
            if norm_type is not None:
                layers.append(_NORMS[norm_type](sizes[i + 1]))
            layers.append(make_activation(activation))
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class NoisyLinear(nn.Module):
    """A linear layer with factorised Gaussian noise on its weights (NoisyNet, Fortunato et al. 2018, sec. 3):

        w = mu_w + sigma_w * (f(eps_out) f(eps_in)^T),   b = mu_b + sigma_b * f(eps_out),   f(x) = sign(x) sqrt(|x|)

    with eps_in (in_features,) and eps_out (out_features,) standard normal. In training mode every forward draws a
    fresh eps (one draw for the whole batch) from ``noise_generator`` (None: torch's global generator); in eval mode
    the layer is ``nn.Linear`` with the mean weights ``mu``. Initialisation as in the paper: mu ~ U(-1/sqrt(in),
    1/sqrt(in)), sigma = sigma0 / sqrt(in), for weights and biases.

    The policies set ``noise_generator`` per mode (``set_noise``): under DDP the learner's generator is in the same
    state on every rank, so every rank draws the noise one process would draw for the union batch.
    """

    def __init__(self, in_features: int, out_features: int, sigma0: float = 0.5) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound, sigma = 1.0 / math.sqrt(in_features), sigma0 / math.sqrt(in_features)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma))
        self.bias_mu = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.bias_sigma = nn.Parameter(torch.full((out_features,), sigma))
        self.noise_generator: Optional[torch.Generator] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return F.linear(x, self.weight_mu, self.bias_mu)
        weight_mu = self.weight_mu
        gen = self.noise_generator
        eps = torch.randn(
            self.in_features + self.out_features,
            generator=gen,
            device=gen.device if gen is not None else weight_mu.device,
            dtype=weight_mu.dtype,
        ).to(weight_mu.device)
        eps = eps.sign() * eps.abs().sqrt()
        eps_in, eps_out = eps[: self.in_features], eps[self.in_features :]
        weight = weight_mu + self.weight_sigma * torch.outer(eps_out, eps_in)
        return F.linear(x, weight, self.bias_mu + self.bias_sigma * eps_out)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"

    def __getstate__(self) -> dict:
        """Copies (``copy.deepcopy``: a target net) start without a generator: the policy gives each its own."""
        return {**super().__getstate__(), "noise_generator": None}


def noisy_layers(model: nn.Module) -> list[NoisyLinear]:
    """The ``NoisyLinear`` layers of ``model`` (empty for a model without noise)."""
    return [module for module in model.modules() if isinstance(module, NoisyLinear)]


def set_noise(model: nn.Module, generator: Optional[torch.Generator]) -> None:
    """Turn the noise of ``model``'s noisy layers on, drawn from ``generator``, or off (``None``: mean weights),
    whatever mode the rest of the model is in."""
    for layer in noisy_layers(model):
        layer.train(generator is not None)
        layer.noise_generator = generator


class ActingLinear(nn.Linear):
    """``nn.Linear`` for a wide layer that acts often between updates (the Nature CNN's 3136x512 feature layer).

    On the CPU, MKL's sgemm reads an (out, in) weight once for every ~3 input rows, so at the batch sizes of acting
    (4-8 envs) that layer costs 2-3x what it costs on a contiguous (in, out) copy of the weight (0.46 vs 0.25 ms at
    batch 4 on one core here; ``benchmarks/bench_atari_collector.py``). Collectors and evaluators call the model many
    times with the same weights, so in eval mode (the policies act in it), without autograd, from batch 4 up, this
    layer keeps such a copy and uses it while the weight is unchanged. The copy is dropped whenever the layer is
    put in training mode (the learner's mode: the weights may change there by any means, e.g. a fused optimizer
    step, which does not bump a tensor's version counter), and is checked against the weight's version counter
    and storage (a checkpoint loaded in eval mode); it is made on the second call that sees the same weight, so an
    evaluation of a handful of steps never pays for one. Parameters, state dict and training are those of
    ``nn.Linear``; results equal it to float rounding.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias)
        self._weight_t: Optional[torch.Tensor] = None  # contiguous (in, out) copy, valid while its key matches
        self._weight_t_key: Optional[tuple] = None
        self._seen_key: Optional[tuple] = None  # the last weight key seen without a copy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight
        if self.training or torch.is_grad_enabled() or weight.device.type != "cpu" or x.dim() != 2 or x.shape[0] < 4:
            return F.linear(x, weight, self.bias)
        key = (weight._version, weight.data_ptr(), weight.dtype)
        if key != self._weight_t_key:
            if key != self._seen_key:
                self._seen_key = key
                return F.linear(x, weight, self.bias)
            with torch.inference_mode(False):  # a normal tensor, usable whether or not the next call is in inference
                self._weight_t = weight.detach().t().contiguous()
            self._weight_t_key = key
        if self.bias is None:
            return x @ self._weight_t
        return torch.addmm(self.bias, x, self._weight_t)

    def train(self, mode: bool = True) -> ActingLinear:
        if mode:  # the learner's mode: the weights may change without a version bump, so the copy goes
            self._weight_t = self._weight_t_key = self._seen_key = None
        return super().train(mode)

    def __getstate__(self) -> dict:
        """Copies (``copy.deepcopy``, pickling) start without the transposed weight."""
        return {**super().__getstate__(), "_weight_t": None, "_weight_t_key": None, "_seen_key": None}


def check_layer_sizes(key: str, sizes: Any) -> None:
    """``model.<key>``, layer widths: None (the model's default layers) or a non-empty list of ints >= 1. An empty
    list is refused rather than read as the default (DI-engine's encoders index its first entry)."""
    if sizes is None:
        return
    ints = isinstance(sizes, (list, tuple)) and all(
        isinstance(size, numbers.Integral) and not isinstance(size, bool) and size >= 1 for size in sizes
    )
    if not ints or not sizes:
        raise ValueError(
            f"model.{key} must be a non-empty list of ints >= 1 (one width per layer) or None (the model's "
            f"default), got {sizes!r}"
        )


def check_choice(key: str, value: Any, choices: Sequence[Any]) -> None:
    """``model.<key>`` must be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"model.{key} must be one of {list(choices)}, got {value!r}")


def flat_size(shape: int | Sequence[int]) -> int:
    """The number of elements of one observation of ``shape`` (an int or a sequence)."""
    if isinstance(shape, int):
        return shape
    return int(torch.tensor(list(shape)).prod().item()) if len(shape) else 1


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's (and flax's) 'SAME' padding of one spatial dimension: (before, after) zeros so that a
    convolution of ``kernel`` and ``stride`` maps ``size`` pixels to ceil(size / stride); an odd total puts the extra
    zero after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


INIT_TYPES = ("xavier",)


def init_weights(model: nn.Module, init_type: Optional[str]) -> None:
    """Re-initialise ``model``'s convolution and linear layers in place: None keeps torch's defaults; 'xavier' draws
    every weight Xavier-uniform (Glorot and Bengio 2010, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), as flax's
    ``xavier_uniform`` that Dopamine's networks use) and zeroes every bias. Noisy layers keep their own
    initialisation (NoisyNet's, as in Dopamine)."""
    if init_type is None:
        return
    if init_type not in INIT_TYPES:
        raise ValueError(
            f"model.init_type={init_type!r} is not supported; use None (torch's default initialisation) or 'xavier' "
            f"(Xavier-uniform weights, zero biases)"
        )
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


class ConvEncoder(nn.Module):
    """Convolutional encoder for image stacks (C, H, W); the Nature-DQN CNN (Mnih et al. 2015) by default.

    One conv layer per entry of ``kernel_size`` / ``stride`` (default: kernels 8, 4, 3, strides 4, 2, 1) with the
    first ``len(kernel_size)`` entries of ``hidden_size_list`` as channels, then a linear layer to
    ``hidden_size_list[-1]`` features (DI-engine's layout: ``[32, 64, 64, 512]`` is the Nature CNN). With
    ``linear=False`` the encoder ends at the flattened maps (``hidden_size_list`` the conv channels alone), as DER's
    data-efficient encoder: ``[32, 64]`` with kernels 5, 5 and strides 5, 5, 84x84 -> 16x16 -> 3x3, 576 features
    that each head stream's first (noisy) layer takes.
    ``padding='same'`` pads each layer as TensorFlow's and flax's 'SAME' (Dopamine's networks): the Nature CNN then
    maps 84x84 to 21x21, 11x11, 11x11, 7,744 features into the 512 layer instead of 3,136 (~1.7x the multiply-adds).
    uint8 observations are scaled to [0, 1] here, on the model's device, so they travel as bytes until then.
    """

    KERNELS = (8, 4, 3)
    STRIDES = (4, 2, 1)
    PADDINGS = ("valid", "same")
    channels_last_training = True  # CPU forwards with autograd take NHWC images (see forward); False: always NCHW

    def __init__(
        self,
        obs_shape: Sequence[int],
        hidden_size_list: Sequence[int] = (32, 64, 64, 512),
        activation: Activation = None,
        kernel_size: Optional[Sequence[int]] = None,
        stride: Optional[Sequence[int]] = None,
        padding: str = "valid",
        linear: bool = True,
    ) -> None:
        super().__init__()
        if len(obs_shape) != 3:
            raise ValueError(f"ConvEncoder needs obs_shape (channels, height, width), got {list(obs_shape)}")
        if padding not in self.PADDINGS:
            raise ValueError(
                f"model.encoder_padding={padding!r} is not supported; use 'valid' (no padding, the Nature CNN) or "
                f"'same' (TensorFlow/flax 'SAME', as Dopamine's networks: each map ceil(size / stride))"
            )
        kernel_size = list(self.KERNELS if kernel_size is None else kernel_size)
        stride = list(self.STRIDES if stride is None else stride)
        n_conv = len(kernel_size)
        if len(stride) != n_conv or n_conv < 1:
            raise ValueError(
                f"model.encoder_kernel_size={kernel_size} and model.encoder_stride={stride}: one kernel size and one "
                f"stride per conv layer"
            )
        if not linear and len(hidden_size_list) != n_conv:
            raise ValueError(
                f"model.encoder_hidden_size_list={list(hidden_size_list)} with model.encoder_linear=False: the "
                f"encoder ends at the flattened conv maps, so the list holds the {n_conv} conv channel sizes alone, "
                f"e.g. [32, 64] (DER's encoder; model.head_hidden_size sets the head's width)"
            )
        if len(hidden_size_list) not in (n_conv, n_conv + 1):
            raise ValueError(
                f"model.encoder_hidden_size_list={list(hidden_size_list)}: image observations take {n_conv} conv "
                f"channel sizes and a feature size, e.g. [32, 64, 64, 512] (the Nature CNN)"
            )
        layers: list[nn.Module] = []
        channels, size = obs_shape[0], tuple(obs_shape[1:])
        for out_channels, kernel, stride_ in zip(hidden_size_list[:n_conv], kernel_size, stride, strict=True):
            pad = 0
            if padding == "same":
                (top, bottom), (left, right) = (same_padding(n, kernel, stride_) for n in size)
                size = tuple(-(-n // stride_) for n in size)
                if (top, left) == (bottom, right):
                    pad = (top, left)  # symmetric: the convolution pads
                else:  # TensorFlow puts the odd pixel after: an explicit pad layer
                    layers.append(nn.ZeroPad2d((left, right, top, bottom)))
            layers += [nn.Conv2d(channels, out_channels, kernel, stride_, pad), make_activation(activation)]
            channels = out_channels
        layers.append(nn.Flatten())
        self.conv = nn.Sequential(*layers)
        with torch.no_grad():
            try:
                flat = self.conv(torch.zeros(1, *obs_shape)).shape[1]
            except RuntimeError as err:  # a kernel larger than what the layers before leave
                raise ValueError(
                    f"model.obs_shape={list(obs_shape)} is too small for conv kernels {kernel_size} with strides "
                    f"{stride}: {err}"
                ) from None
        if linear:
            self.fc = nn.Sequential(ActingLinear(flat, hidden_size_list[-1]), make_activation(activation))
            self.output_size = hidden_size_list[-1]
        else:  # the flattened maps are the features (the head's first layers take them)
            self.fc = nn.Identity()
            self.output_size = flat
        # an index, not the module: a module held in an attribute would be registered (and saved) twice
        self._first_conv = next(i for i, m in enumerate(self.conv) if isinstance(m, nn.Conv2d))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        # float32 unless the model was cast (e.g. .double() in equivalence tests)
        dtype = self.conv[self._first_conv].weight.dtype
        if self.channels_last_training and obs.device.type == "cpu" and obs.dim() == 4 and torch.is_grad_enabled():
            # a forward to train on takes channels-last images (cast as bytes): oneDNN's NHWC convolutions compute
            # the backward faster (a DrQ(eps) update ~0.9 of its NCHW time on 1 thread, 0.75-0.9 on 2; a PPO batch
            # of 256 0.67; benchmarks/bench_conv_memory_format.py), while forwards without autograd (acting,
            # targets) are a little faster in NCHW (NHWC 1.01-1.07x at batch 1-32). The layers keep their standard
            # parameters; the flattened features are in the usual (C, H, W) order.
            obs = obs.contiguous(memory_format=torch.channels_last)
        x = obs.to(dtype).div_(255.0) if obs.dtype == torch.uint8 else obs.to(dtype)
        return self.fc(self.conv(x))
