# ctypes binding of hearth's quantization C API (hearth_dequantize / hearth_quantize in
# include/hearth/hearth.h) shared by the quant Python tests.
import ctypes
import os
from pathlib import Path

import numpy as np


def library_path() -> Path:
    bin_path = os.environ.get("HEARTH_BIN")
    if bin_path:
        return Path(bin_path).resolve().parent.parent / "lib" / "libhearth.so"
    root = Path(os.environ.get("HEARTH_ROOT", Path(__file__).resolve().parents[2]))
    return root / "build" / "lib" / "libhearth.so"


class HearthQuant:
    def __init__(self, path: Path):
        self.lib = ctypes.CDLL(str(path))
        self.lib.hearth_dequantize.restype = ctypes.c_int
        self.lib.hearth_dequantize.argtypes = [ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64,
                                               ctypes.c_void_p]
        self.lib.hearth_quantize.restype = ctypes.c_int
        self.lib.hearth_quantize.argtypes = [ctypes.c_uint32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                                             ctypes.c_void_p, ctypes.c_size_t]
        self.lib.hearth_last_error.restype = ctypes.c_char_p

    def last_error(self) -> str:
        return self.lib.hearth_last_error().decode()

    def dequantize_status(self, type_id: int, data: np.ndarray, n: int, out: np.ndarray | None = None) -> int:
        return self.lib.hearth_dequantize(type_id, data.ctypes.data if data is not None else None,
                                          0 if data is None else data.nbytes, n,
                                          out.ctypes.data if out is not None else None)

    def dequantize(self, type_id: int, data: np.ndarray, n: int) -> np.ndarray:
        data = np.ascontiguousarray(data).view(np.uint8).reshape(-1)
        out = np.empty(n, dtype=np.float32)
        status = self.lib.hearth_dequantize(type_id, data.ctypes.data, data.nbytes, n, out.ctypes.data)
        if status != 0:
            raise RuntimeError(f"hearth_dequantize failed ({status}): {self.last_error()}")
        return out

    def quantize(self, type_id: int, x: np.ndarray, nbytes: int, importance: np.ndarray | None = None) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
        out = np.zeros(nbytes, dtype=np.uint8)
        imp = None if importance is None else np.ascontiguousarray(importance, dtype=np.float32).ctypes.data
        status = self.lib.hearth_quantize(type_id, x.ctypes.data, x.size, imp, out.ctypes.data, nbytes)
        if status != 0:
            raise RuntimeError(f"hearth_quantize failed ({status}): {self.last_error()}")
        return out
