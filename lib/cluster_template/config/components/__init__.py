"""Settings groups of the optional components, one module each.

`COMPONENT_GROUPS` lists them in the order SEED.md presents them (and their keys appear in the
documentation). Importing a module also registers its cross-field rules.
"""

from .cnpg import CNPGSettings
from .dragonfly import DragonflySettings
from .keycloak import KeycloakSettings
from .langfuse import LangfuseSettings
from .litellm import LiteLLMSettings
from .network_policies import NetworkPoliciesSettings
from .obot import ObotSettings
from .observability import ObservabilitySettings
from .oidc import OIDCSettings
from .proxmox import ProxmoxSettings
from .rustfs import RustFSSettings
from .talos_backup import TalosBackupSettings

COMPONENT_GROUPS: tuple[type, ...] = (
    ObservabilitySettings,
    RustFSSettings,
    NetworkPoliciesSettings,
    TalosBackupSettings,
    CNPGSettings,
    KeycloakSettings,
    LiteLLMSettings,
    DragonflySettings,
    LangfuseSettings,
    ObotSettings,
    OIDCSettings,
    ProxmoxSettings,
)
