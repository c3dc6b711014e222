from ding._dingine_modules import PACKAGES as _PACKAGES
from ding._dingine_modules import install as _install_dingine_module_finder
from ding._dingine_modules import package_getattr as _package_getattr

_install_dingine_module_finder()  # a DI-engine module ding lacks: one line saying so (ding/_dingine_modules.py)
__getattr__ = _package_getattr("ding", tuple(_PACKAGES))  # `from ding import framework` says it too
