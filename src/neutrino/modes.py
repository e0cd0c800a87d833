"""The agent modes, named once: what the L3 agent of a host runs there.

    legacy     whole legacy routers (routing, SNAT and floating IPs in one qrouter)
    dvr        a compute host: a qrouter of each distributed router with a VM here,
               and the floating IPs of its VMs (the fip namespaces)
    dvr_snat   a network node: as dvr, plus the centralized SNAT of distributed
               routers and whole legacy routers

An agent reports its mode with its heartbeat; the scheduler places routers by it,
the planner and the lab use the same names, and the agent's configuration allows
exactly these.
"""

LEGACY, DVR, DVR_SNAT = "legacy", "dvr", "dvr_snat"

AGENT_MODES = (LEGACY, DVR, DVR_SNAT)
DVR_MODES = (DVR, DVR_SNAT)  # a qrouter of each distributed router with a VM here
SNAT_MODES = (DVR_SNAT,)  # the centralized SNAT of distributed routers
LEGACY_MODES = (LEGACY, DVR_SNAT)  # whole legacy routers
