"""The network domain under the API: what a Neutron network, subnet and port *are*.

Address arithmetic (`ipam`), allocating ports and their addresses in the database
(`ports`), storing rows with revisions (`rows`), who owns a port (`owners`, Neutron's
device_owner strings) and the Neutron errors the domain raises (`errors`). Nothing here knows HTTP or policy: `api` parses requests, checks
who may ask and renders answers, then calls in here; `scheduler` and the simulator
call in here too. It sits just above `db` (it reads and writes `db.schema`).
"""
