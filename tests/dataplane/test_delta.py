"""The desired-vs-believed tracker: a belief that is the desired dict itself (after
everything desired was written) never changes what is desired."""

from neutrino.dataplane.delta import ApplyResult, Table


class Recording(Table):
    kind = "thing"

    def __init__(self, fail: set | None = None):
        super().__init__()
        self.held: dict = {}
        self.fail = fail or set()

    def read(self) -> dict:
        return dict(self.held)

    def write(self, items, result):
        done = [k for k, _v in items if k not in self.fail]
        self.held.update((k, v) for k, v in items if k in done)
        return done

    def delete(self, items, result):
        for k, _v in items:
            self.held.pop(k, None)
        return [k for k, _v in items]


def apply(table: Table, desired: dict) -> ApplyResult:
    result = ApplyResult()
    table.set_desired(dict(desired))
    table.resync_if_queued(result)
    table.apply_updates(result)
    table.apply_deletions(result)
    return result


def test_a_second_apply_of_the_same_state_writes_nothing():
    table = Recording()
    assert apply(table, {"a": 1, "b": 2}).writes["thing"] == 2
    assert apply(table, {"a": 1, "b": 2}).writes["thing"] == 0
    assert table.held == {"a": 1, "b": 2}


def test_changes_after_a_complete_apply_leave_the_desired_state_alone():
    table = Recording()
    apply(table, {"a": 1, "b": 2})
    assert apply(table, {"a": 3}).writes["thing"] == 2  # a changed, b deleted
    assert table.delta.desired == {"a": 3}
    assert table.held == {"a": 3}
    table.delta.confirm_deleted("a")  # believed changes in place: desired does not
    assert table.delta.desired == {"a": 3}
    assert apply(table, {"a": 3}).writes["thing"] == 1


def test_a_failed_write_is_not_believed():
    table = Recording(fail={"b"})
    result = apply(table, {"a": 1, "b": 2})
    assert result.writes["thing"] == 1
    assert table.resync_queued and table.delta.desired == {"a": 1, "b": 2}
    table.fail = set()
    assert apply(table, {"a": 1, "b": 2}).writes["thing"] == 1
    assert table.held == {"a": 1, "b": 2}
