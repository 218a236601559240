"""A small trained recommender and its export, shared by the export and server tests.

Sizes are tiny (about 120 users, 60 items, 64-token texts, one epoch) so that building it
takes seconds; what the tests check (the export equals the in-memory model) does not depend on
how good the model is.
"""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

KEY = "export-test-key-0123456789abcdef"


@dataclasses.dataclass
class TrainedExport:
    model: object
    embedder: object
    train: pd.DataFrame
    review_vectors: np.ndarray
    user_text: object
    item_text: object
    info: object
    key: str

    @property
    def path(self) -> Path:
        return self.info.path

    def pseudonyms(self, user_ids) -> list:
        from textrec import privacy

        return [privacy.pseudonymize(u, self.key) for u in user_ids]


def build_trained_export(folder: Path, max_length: int = 64) -> TrainedExport:
    """Train the small model and export it to ``folder``; ``max_length``: the encoder's tokens
    per text (64: 4 length buckets; the course's 128: 8)."""
    from textrec import config, export, interests, models
    from textrec.data import schema, splits
    from textrec.data.cleaning import clean_reviews
    from textrec.data.synthetic import generate_world
    from textrec.text import TextEmbedder

    config.set_seeds(config.SEED)
    world = generate_world(n_users=120, n_items=60, n_reviews=900, seed=7)
    clean, _ = clean_reviews(world.reviews, k=3)
    split = splits.leave_last_out(clean)
    items = world.items[world.items[schema.ITEM].isin(clean[schema.ITEM])].reset_index(drop=True)
    train = split.train
    embedder = TextEmbedder(max_length=max_length, use_cache=False)
    review_vectors, description_vectors = interests.embed_train_and_items(train, items, embedder)
    user_text = interests.interest_vectors(train, review_vectors)
    item_text = interests.item_text_vectors(items, train, review_vectors, description_vectors)
    probabilities = models.candidate_sampling_probabilities(train)

    def build():
        query = models.QueryTower(user_text.ids, 16, user_text, hidden_units=(32,),
                                  text_projection_units=32)
        candidate = models.CandidateTower(item_text.ids, 16, item_text, hidden_units=(32,))
        return models.JointModel(query, candidate, mean_rating=4.0, remove_accidental_hits=True,
                                 candidate_probabilities=probabilities)

    model = models.fit_model(build, models.review_dataset(train, review_vectors, batch_size=128),
                             epochs=2, learning_rate=0.01).model
    parts = export.ServingParts(model, user_text, item_text, train, review_vectors, embedder)
    settings = export.ExportSettings(pseudonym_key=KEY, max_k=20,
                                     metrics={"validation ndcg@10": 0.123},
                                     data_name="synthetic test world")
    info = export.export_recommender(parts, folder, settings)
    return TrainedExport(model, embedder, train, review_vectors, user_text, item_text, info, KEY)


def post_predict(server, body, timeout: float) -> tuple:
    """(status, parsed JSON) of one :predict request to a running ``textrec serve``
    (``server.url``), an error status included."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(server.url + "/v1/models/textrec:predict",
                                     data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
