"""A growing list of distinct strings with stable integer codes, fed batch by batch."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class Vocab:
    """Maps each batch's dictionary to global codes with one vectorised lookup per batch."""

    def __init__(self):
        self.values: list[str] = []
        self._array = pa.array([], pa.string())
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.values)

    def codes_of(self, dictionary: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """-> (global code per dictionary entry [D] int32, the entries new to this vocab [D] bool)."""
        found = pc.index_in(dictionary, value_set=self._array)
        codes = np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), np.int32).copy()
        new = codes < 0
        if new.any():
            fresh = []
            for i in np.flatnonzero(new):
                text = dictionary[int(i)].as_py()
                if text not in self._index:  # a dictionary can hold a value twice only via nulls
                    self._index[text] = len(self.values)
                    self.values.append(text)
                    fresh.append(text)
                codes[i] = self._index[text]
            self._array = pa.concat_arrays([self._array, pa.array(fresh, pa.string())])
        return codes, new
