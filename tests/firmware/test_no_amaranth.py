"""The host side needs no Amaranth: with ``import amaranth`` made to fail, the firmware
package, the protocol and the register map import, and the Device's register model works."""

import subprocess
import sys

BLOCKED = '''
import sys

class NoAmaranth:
    def find_spec(self, name, path=None, target=None):
        if name == "amaranth" or name.startswith("amaranth."):
            raise ImportError(f"{name} is blocked in this test")

sys.meta_path.insert(0, NoAmaranth())
for name in [m for m in sys.modules if m.split(".")[0] == "amaranth"]:
    del sys.modules[name]
try:
    import amaranth  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("the blocker does not block")
'''

USE = '''
import rtrledit.firmware
from rtrledit.boards import protocol as P
from rtrledit.firmware import Device, RegisterModel
from rtrledit.model.config import Config

cfg = Config(hidden=3, inputs=2)
dev = Device(rtrledit.firmware.Transport(), cfg, timeout=0.1, check=False)
assert dev.regs.mode(True) == 0b11 and dev.regs.learning_rates(8, 6) == 0x0608
assert [w.addr for w in dev.regs.params([[0] * cfg.q] * cfg.n, [[0] * 3], [0])] == \\
    [dev.regmap[n].base for n in "WUVC"]
assert P.valid_length(P.Cmd.WRITE_WIN, 7, P.Layout.from_config(cfg))
assert not [m for m in sys.modules if m.split(".")[0] == "amaranth"]
print("ok")
'''


def test_the_host_side_imports_and_works_without_amaranth():
    r = subprocess.run([sys.executable, "-c", BLOCKED + USE], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-3000:]


def test_the_blocker_would_catch_a_gateware_import():
    """The check can fail: a module that needs Amaranth does not import under the blocker."""
    r = subprocess.run([sys.executable, "-c", BLOCKED + "import rtrledit.boards.bridge"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "amaranth is blocked" in r.stderr
