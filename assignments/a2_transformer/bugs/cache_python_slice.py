"""write_cache slices with the index in Python: fine eagerly, an error under jit, where the index is traced."""


def write_cache(cache_BHSK, new_BHTK, index):
    return cache_BHSK.at[:, :, index:index + new_BHTK.shape[2]].set(new_BHTK)
