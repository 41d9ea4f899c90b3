from tests.promote.test_registry import *
def test_dbg(registry, challenger_factory, lock):
    ch = challenger_factory(0)
    print(ch)
    print(registry._resolve_source(f"runs:/{ch.run_id}/model", ch.run_id))
    out = promote(registry, decide(None, 0.7), f"runs:/{ch.run_id}/model", ch.run_id, {}, "first", lock)
    mv = registry.client.get_model_version(NAME, out.version)
    print(mv.source, mv.model_id, mv.run_id)
    mv = registry.client.create_model_version(NAME, ch.model_uri, ch.run_id, model_id=ch.model_uri.split("/")[-1])
    print(mv.source, mv.model_id, mv.run_id)
