"""Where neutrino keeps its files on a host, named once.

/run/neutrino    the agent's run directory: its data plane's files (keepalived's
                 configurations and pid files, under keepalived/); the agent's
                 `run_dir` setting and `LinuxDataplane(run_dir=...)` default to it
"""

from pathlib import Path

DEFAULT_RUN_DIR = Path("/run/neutrino")
