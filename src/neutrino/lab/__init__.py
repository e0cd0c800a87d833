"""The lab: a whole neutrino cloud on one machine, in real namespaces (`neutrino lab ...`).

Modelled on Mininet: the world it builds is `neutrino.layout`'s (pure data, shared
with the simulator, whose naming rules are written there), `topology` adds the
lab's own names, the builders (`fabric`, `ovs`, `build`) make it real, `teardown`
takes it all down again. The same layout as the in-memory `sim.world`, with every
namespace carrying the lab's prefix <p> (default "nt-"):

Naming (what the lab adds to the layout's):
    <p>fabric, <p>upstream, <p>internet, <p><host>
                           the layout's namespaces; internet's web service answers
                           "you are <client>\\n"
    <p><host>              also: OVS br-phy (holding the tunnel address 172.30.0.<10+i>/24,
                           eth-tun its port) and br-ex (eth-ex its port), its own
                           ovsdb-server and ovs-vswitchd (netdev datapath), files under
                           <dir>/<host>/ovs/
    <p><host>-qrouter-..   router namespaces: made by that host's agent
                           (--namespace-prefix <p><host>-), swept by `down`
    <p>vm-<name>           a VM: eth0 (its port's MAC, the network's MTU, address/prefix,
                           default via the subnet gateway) whose veth peer tap<port id[:11]>
                           sits in its host's namespace; an HTTP service on port 80
Every veth end the lab makes has transmit checksum offload off (`offload`: else TCP
breaks through OVS's netdev datapath). Files in <dir> (default /run/neutrino-lab): lab.json (the state), lab.lock, pids/<name>.pid
(every process the lab started: "pid starttime"), server.toml, neutrino.db (one server;
several share a PostgreSQL database of the lab's own, behind HAProxy: haproxy.cfg,
haproxy.sock), clouds.yaml, agent.toml, logs/*.log, <host>/ovs/. Nothing is attached to the root namespace's
interfaces; the server and the agents run in the root namespace on 127.0.0.1.

This package's __init__ imports nothing: `python -m neutrino.lab.httpd` starts fast.
"""
