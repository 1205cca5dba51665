"""The real chat backend: parrot.llm's C core, run in the runtime's model worker thread."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Callable, Iterator

from parrot.app.backends import Post
from parrot.events import CandidatesReranked, Event, LlmDone, LlmLoaded, LlmProgress, LlmToken

log = logging.getLogger(__name__)


class LlmBackend:
    def __init__(self, resolve: Callable[[str], tuple], threads: int, context: int):
        """`resolve(name) -> (path, preset family or None)`; raises UserError for an unknown/missing model."""
        self.resolve = resolve
        self.threads = threads
        self.context = context
        self.model = None
        self.preset = None
        self.name: str | None = None
        self.reranker = None  # parrot.ime.rerank.Reranker over the loaded model
        self.reranker_for = None  # the input session's engine it searches with
        self._aborted = threading.Event()

    def load(self, name: str) -> Iterator[Event]:
        previous = self.name
        self.close()  # free the old model before mapping the new one: both may not fit in RAM
        try:
            self._open(name)
        except Exception as e:  # ModelError / UserError: shown on the models screen
            log.warning("loading %s failed: %s", name, e)
            if previous is None or previous == name:
                yield LlmLoaded(name, error=str(e))
                return
            try:  # a failed switch: the model that worked before, not none at all
                self._open(previous)
            except Exception as again:
                log.warning("loading %s again failed: %s", previous, again)
                yield LlmLoaded(name, error=f"{e}（原来的 {previous} 也未能重新加载：{again}）")
                return
            log.warning("switching to %s failed; %s is loaded again", name, previous)
            yield LlmLoaded(previous, error=str(e), failed=name)
            return
        yield LlmLoaded(name)

    def _open(self, name: str) -> None:
        from parrot.llm import Model
        from parrot.llm.presets import PRESETS, preset_for

        path, family = self.resolve(name)
        model = Model(str(path), threads=self.threads, context=self.context)
        try:
            preset = PRESETS.get(family) or preset_for(model.arch, model.name)
        except BaseException:
            model.close()
            raise
        if model.template_warning:
            log.warning("%s: %s", name, model.template_warning)
        self.model, self.preset, self.name = model, preset, name

    def ask(self, request: int, question: str, max_tokens: int, thinking: bool, progress: Post) -> Iterator[Event]:
        if self.model is None:
            yield LlmDone(request, error="没有加载模型")
            return
        self._aborted.clear()
        sampling = dataclasses.replace(self.preset.sampling, max_tokens=int(max_tokens))
        pieces = self.model.chat(
            question,
            sampling=sampling,
            system=self.preset.system_prompt,
            thinking=thinking,
            on_progress=lambda done, total: progress(LlmProgress(request, done, total)),
        )
        for piece in pieces:
            yield LlmToken(request, piece)
        yield LlmDone(request, aborted=self._aborted.is_set(), stats=dict(self.model.stats))

    def rerank(self, keys: int, digits: str, candidates: tuple, engine) -> Iterator[Event]:
        if self.model is None:
            return
        if self.reranker is None or self.reranker_for is not engine:
            from parrot.ime.rerank import LlmScorer, Reranker

            # the same re-ranker `parrot ime eval --llm` measures (its wider search is cached)
            self.reranker, self.reranker_for = Reranker(LlmScorer(self.model), engine), engine
        yield CandidatesReranked(keys, tuple(self.reranker(digits, list(candidates))))

    def abort(self) -> None:
        self._aborted.set()
        if self.model is not None:
            self.model.abort()

    def reset(self) -> None:
        if self.model is not None:
            self.model.reset()

    def restore(self, turns: tuple) -> None:
        if self.model is not None:
            self.model.restore(turns, system=self.preset.system_prompt)

    def close(self) -> None:
        if self.model is not None:
            self.model.close()
            self.model = None
            self.reranker = None
            self.name = None
