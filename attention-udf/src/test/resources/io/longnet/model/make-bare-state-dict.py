# Regenerate: python3 make-bare-state-dict.py bare-state-dict.pt (Python 3 and numpy; no torch needed).
"""Writes a small torch.save-format file without torch: a bare OrderedDict state dict (with _metadata, as
module.state_dict() has), pickled as torch does (protocol 2, persistent ids for storages), in a zip with
data.pkl and data/<key> records. Tensors: 'a' [2, 3] float32; 'a_t', a transposed view of 'a' sharing its
storage (strides (1, 3)); 'h' [4] float16 at storage offset 1 of a 5-element storage."""
import collections, io, pickle, sys, types, zipfile
import numpy as np

torch = types.ModuleType("torch"); utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch; sys.modules["torch._utils"] = utils
class FloatStorage: pass
class HalfStorage: pass
FloatStorage.__module__ = HalfStorage.__module__ = "torch"
torch.FloatStorage = FloatStorage; torch.HalfStorage = HalfStorage
def _rebuild_tensor_v2(*args): pass
_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2

class Storage:
    def __init__(self, cls, key, data): self.cls, self.key, self.data = cls, key, data
class Tensor:
    def __init__(self, storage, offset, size, stride): self.s, self.o, self.size, self.stride = storage, offset, size, stride
    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, (self.s, self.o, self.size, self.stride, False, collections.OrderedDict()))

class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cpu", obj.data.size)
        return None

a = Storage(FloatStorage, "0", np.arange(6, dtype="<f4") * 0.5 - 1)
h = Storage(HalfStorage, "1", np.array([9, 0.5, -2, 1024, 3.25], dtype="<f2"))
sd = collections.OrderedDict()
sd["a"] = Tensor(a, 0, (2, 3), (3, 1))
sd["a_t"] = Tensor(a, 0, (3, 2), (1, 3))
sd["h"] = Tensor(h, 1, (4,), (1,))
sd._metadata = collections.OrderedDict([("", {"version": 1})])
buf = io.BytesIO(); TorchPickler(buf, protocol=2).dump(sd)
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", buf.getvalue())
    z.writestr("archive/byteorder", "little")
    for s in (a, h):
        z.writestr("archive/data/" + s.key, s.data.tobytes())
    z.writestr("archive/version", "3\n")
