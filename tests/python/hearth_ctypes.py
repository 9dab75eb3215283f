# ctypes binding of hearth's model/inference C API (hearth_model_load, hearth_context_new,
# hearth_decode, hearth_get_logits in include/hearth/hearth.h) for the Python tests.
import ctypes

import numpy as np

from quant_ctypes import library_path


class ContextParams(ctypes.Structure):
    _fields_ = [('n_ctx', ctypes.c_int64), ('n_batch', ctypes.c_int32), ('n_ubatch', ctypes.c_int32),
                ('n_threads', ctypes.c_int32), ('n_seq_max', ctypes.c_int32)]


class HearthError(RuntimeError):
    def __init__(self, status, message):
        super().__init__(f'hearth status {status}: {message}')
        self.status = status


class Hearth:
    def __init__(self, path=None):
        lib = self.lib = ctypes.CDLL(str(path or library_path()))
        vp, i32p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32)
        lib.hearth_last_error.restype = ctypes.c_char_p
        lib.hearth_context_default_params.argtypes = [ctypes.POINTER(ContextParams)]
        lib.hearth_model_load.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(vp)]
        lib.hearth_model_free.argtypes = [vp]
        lib.hearth_model_n_vocab.argtypes = [vp]
        lib.hearth_model_n_vocab.restype = ctypes.c_int64
        lib.hearth_tokenize.argtypes = [vp, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, i32p,
                                        ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
        lib.hearth_context_new.argtypes = [vp, ctypes.POINTER(ContextParams), ctypes.POINTER(vp)]
        lib.hearth_context_free.argtypes = [vp]
        lib.hearth_decode.argtypes = [vp, i32p, i32p, i32p, ctypes.POINTER(ctypes.c_uint8), ctypes.c_size_t]
        lib.hearth_get_logits.argtypes = [vp, ctypes.c_size_t, ctypes.POINTER(ctypes.POINTER(ctypes.c_float))]
        lib.hearth_kv_remove.argtypes = [vp, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32]
        for fn in ('hearth_model_load', 'hearth_tokenize', 'hearth_context_new', 'hearth_decode', 'hearth_get_logits',
                   'hearth_kv_remove'):
            getattr(lib, fn).restype = ctypes.c_int

    def check(self, status):
        if status != 0:
            raise HearthError(status, self.lib.hearth_last_error().decode())

    def default_params(self):
        p = ContextParams()
        self.lib.hearth_context_default_params(ctypes.byref(p))
        return p


class Model:
    def __init__(self, h, path, use_mmap=True):
        self.h = h
        self.ptr = ctypes.c_void_p()
        h.check(h.lib.hearth_model_load(str(path).encode(), int(use_mmap), ctypes.byref(self.ptr)))
        self.n_vocab = h.lib.hearth_model_n_vocab(self.ptr)

    def tokenize(self, text, add_special=True, parse_special=True):
        data = text.encode()
        n = ctypes.c_size_t()
        cap = len(data) + 8
        out = (ctypes.c_int32 * cap)()
        self.h.check(self.h.lib.hearth_tokenize(self.ptr, data, len(data), int(add_special), int(parse_special), out,
                                                cap, ctypes.byref(n)))
        return list(out[:n.value])

    def close(self):
        if self.ptr:
            self.h.lib.hearth_model_free(self.ptr)
            self.ptr = ctypes.c_void_p()


class Context:
    def __init__(self, model, **params):
        self.model, h = model, model.h
        p = h.default_params()
        for k, v in params.items():
            setattr(p, k, v)
        self.ptr = ctypes.c_void_p()
        h.check(h.lib.hearth_context_new(model.ptr, ctypes.byref(p), ctypes.byref(self.ptr)))

    def decode(self, tokens, pos=None, seq=None, want=None):
        n = len(tokens)
        arr = lambda vals, t: (t * n)(*vals)
        pos = list(range(n)) if pos is None else pos
        self.model.h.check(self.model.h.lib.hearth_decode(
            self.ptr, arr(tokens, ctypes.c_int32), arr(pos, ctypes.c_int32),
            None if seq is None else arr(seq, ctypes.c_int32), None if want is None else arr(want, ctypes.c_uint8), n))

    def logits(self, i):
        out = ctypes.POINTER(ctypes.c_float)()
        self.model.h.check(self.model.h.lib.hearth_get_logits(self.ptr, i, ctypes.byref(out)))
        return np.ctypeslib.as_array(out, shape=(self.model.n_vocab,)).astype(np.float64)

    def kv_remove(self, seq=-1, p0=0, p1=-1):
        self.model.h.check(self.model.h.lib.hearth_kv_remove(self.ptr, seq, p0, p1))

    def close(self):
        if self.ptr:
            self.model.h.lib.hearth_context_free(self.ptr)
            self.ptr = ctypes.c_void_p()
