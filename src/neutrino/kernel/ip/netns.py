"""`ip netns`: add, delete and list the model's namespaces."""

from .args import Args, Exit, Fail, matches


def do_netns(ctx, args: Args) -> None:
    kernel = ctx.kernel
    if not args or matches(args.cur, "list") or matches(args.cur, "show"):
        for name in reversed(list(kernel.namespaces)):
            if name != kernel.INIT:
                ctx.printer.fp(f"{name}\n")
        return
    cmd = args.cur
    args.advance()
    if matches(cmd, "add"):
        if not args:
            raise Fail("No netns name specified\n", 255)
        name = args.cur
        if name in kernel.namespaces:
            raise Fail(f'Cannot create namespace file "/var/run/netns/{name}": File exists\n', 255)
        kernel.netns(name)
        return
    if matches(cmd, "delete"):
        if not args:
            raise Fail("No netns name specified\n", 255)
        name = args.cur
        if name not in kernel.namespaces or name == kernel.INIT:
            raise Fail(
                f'Cannot remove namespace file "/var/run/netns/{name}": No such file or directory\n',
                255,
            )
        kernel.delete_netns(name)
        return
    raise Exit(f'Command "{cmd}" is unknown, try "ip netns help".\n')
