from ding._dingine_modules import install as _install_dingine_module_finder

_install_dingine_module_finder()  # a DI-engine module ding lacks: one line saying so (ding/_dingine_modules.py)
