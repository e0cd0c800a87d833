"""The netfilter model against the real iptables (root only).

generate.py makes seeded random command lines and restore files, real.py runs
them on the real iptables in a throwaway namespace, compare.py runs the same
input on both and reports every difference.
"""
