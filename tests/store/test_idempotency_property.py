"""Property: capturing any sequence of orders twice stores each (channel, external_id) once."""

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from tests.factories import make_order
from xborder.services.capture import capture_batch, order_frames
from xborder.store.schema import orders
from xborder.store.uow import UnitOfWork


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from("ABCDEFG"), st.sampled_from(["0", "1.50", "2"])),
        min_size=1,
        max_size=15,
    )
)
def test_repeated_capture_never_duplicates(
    sqlite_engine: Engine, spec: list[tuple[str, str]]
) -> None:
    batch = order_frames([make_order(key, freight=Decimal(f)) for key, f in spec])
    with UnitOfWork(sqlite_engine) as uow:
        first = capture_batch(uow, batch)
        second = capture_batch(uow, batch)
        stored = uow.connection.execute(select(func.count()).select_from(orders)).scalar_one()
        uow.rollback()
    assert second.created == 0
    assert (
        second.results.filter(second.results["status"] == "existing").height == first.results.height
    )
    assert first.results.height + first.rejected == len(spec)
    # each key stored at most once; a key whose first content differed later is a conflict
    assert stored == len({key for key, _ in spec})
    assert second.errors.height == first.errors.height
