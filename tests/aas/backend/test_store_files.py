"""Supplementary files leave the twin's store with the last element pointing at them, and only once the change that
dropped it is durable: a crash before then must find the file its element still names."""

from __future__ import annotations

import io

from basyx.aas import model

from werk.aas.backend.store import TwinStore, file_names

SM = "urn:werk:test:sm"


def documents() -> model.Submodel:
    return model.Submodel(
        SM,
        submodel_element=[
            model.File("Manual", "application/pdf", value="/aasx/files/manual.pdf"),
            model.SubmodelElementCollection(
                "Drawings", value=[model.File("Front", "image/png", value="/aasx/files/front.png")]
            ),
            model.File("Link", "text/html", value=None),
        ],
    )


def store_with_files() -> tuple[TwinStore, model.Submodel, list[str]]:
    sm = documents()
    store = TwinStore([sm])
    for name, ctype in [
        ("/aasx/files/manual.pdf", "application/pdf"),
        ("/aasx/files/front.png", "image/png"),
    ]:
        store.files.add_file(name, io.BytesIO(name.encode()), ctype)
    removed: list[str] = []
    store.on_files_removed = removed.extend
    return store, sm, removed


def drop(store: TwinStore, sm: model.Submodel, id_short: str) -> None:
    """What DELETE of an element does, under the lock."""
    with store.lock:
        el = sm.get_referable(id_short)
        sm.submodel_element.remove(el)
        store.release_files(file_names(el))
        store.changed(sm)


def test_file_names_walks_collections_and_skips_empty_values() -> None:
    assert file_names(documents()) == {"/aasx/files/manual.pdf", "/aasx/files/front.png"}


async def test_a_file_goes_only_after_the_change_that_dropped_it_is_durable() -> None:
    store, sm, removed = store_with_files()
    calls = 0

    async def sync() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # another request drops the drawing while this commit is under way
            drop(store, sm, "Drawings")

    store.sync = sync
    drop(store, sm, "Manual")
    await store.synced()  # durable: the manual's change, not the drawing's, which came after it started
    assert removed == ["/aasx/files/manual.pdf"]
    assert "/aasx/files/front.png" in store.files and "/aasx/files/manual.pdf" not in store.files
    await store.synced()
    assert removed == ["/aasx/files/manual.pdf", "/aasx/files/front.png"]


async def test_a_file_another_element_points_at_stays() -> None:
    store, sm, removed = store_with_files()
    with store.lock:
        sm.submodel_element.add(model.File("Copy", "application/pdf", value="/aasx/files/manual.pdf"))
        store.changed(sm)
    drop(store, sm, "Manual")
    await store.synced()
    assert removed == [] and "/aasx/files/manual.pdf" in store.files
    drop(store, sm, "Copy")
    await store.synced()
    assert removed == ["/aasx/files/manual.pdf"]
