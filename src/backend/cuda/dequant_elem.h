// Per-element dequantizers of the block formats the CUDA kernels read (F32, F16, BF16, Q4_0, Q5_0,
// Q8_0, Q4_K, Q6_K), written once for host and device (HEARTH_HD) so the host unit tests can check
// the block-layout arithmetic against the reference dequantizer on a machine without a GPU.
// Block layouts (bytes, little-endian; d/dmin are IEEE half):
//   Q8_0 (34 B / 32): d, int8 qs[32]                       x = d * qs[j]
//   Q4_0 (18 B / 32): d, u8 qs[16]                         x_j = d * ((qs[j] & 15) - 8), x_{j+16} = d * ((qs[j] >> 4) - 8)
//   Q5_0 (22 B / 32): d, u8 qh[4], u8 qs[16]               like Q4_0 with bit j of qh as the 5th bit, minus 16
//   Q4_K (144 B / 256): d, dmin, u8 scales[12], u8 qs[128] 8 sub-blocks of 32 with 6-bit scale/min
//   Q6_K (210 B / 256): u8 ql[128], u8 qh[64], i8 scales[16], d
#pragma once

#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define HEARTH_HD __host__ __device__ __forceinline__
#else
#define HEARTH_HD inline
#endif

namespace hearth::cuda {

constexpr uint32_t kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ5_0 = 6, kQ8_0 = 8, kQ4_K = 12, kQ6_K = 14, kI32 = 26, kBF16 = 30;

HEARTH_HD float bits_to_float(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// IEEE half (2 bytes at p, little-endian) to float, subnormals and inf/nan included.
HEARTH_HD float half_at(const uint8_t* p) {
    const uint32_t h = uint32_t(p[0]) | uint32_t(p[1]) << 8;
    const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 31u, man = h & 1023u;
    if (exp == 31) return bits_to_float(sign | 0x7f800000u | man << 13);
    if (exp != 0) return bits_to_float(sign | (exp + 112) << 23 | man << 13);
    const float sub = float(man) * (1.0f / 16777216.0f);  // man * 2^-24
    return sign ? -sub : sub;
}

// Element j of a row of the given type (row points at the row's first block / element).
HEARTH_HD float load_elem(uint32_t type, const char* row, int64_t j) {
    const uint8_t* r = reinterpret_cast<const uint8_t*>(row);
    switch (type) {
        case kF32: {
            float f;
            memcpy(&f, r + 4 * j, 4);
            return f;
        }
        case kF16: return half_at(r + 2 * j);
        case kBF16: return bits_to_float(uint32_t(r[2 * j]) << 16 | uint32_t(r[2 * j + 1]) << 24);
        case kQ8_0: {
            const uint8_t* b = r + (j / 32) * 34;
            return half_at(b) * float(int8_t(b[2 + j % 32]));
        }
        case kQ4_0: {
            const uint8_t* b = r + (j / 32) * 18;
            const int k = int(j % 32);
            const int q = k < 16 ? (b[2 + k] & 15) : (b[2 + k - 16] >> 4);
            return half_at(b) * float(q - 8);
        }
        case kQ5_0: {
            const uint8_t* b = r + (j / 32) * 22;
            const int k = int(j % 32);
            const uint32_t qh = uint32_t(b[2]) | uint32_t(b[3]) << 8 | uint32_t(b[4]) << 16 | uint32_t(b[5]) << 24;
            const int lo = k < 16 ? (b[6 + k] & 15) : (b[6 + k - 16] >> 4);
            const int q = lo | int((qh >> k) & 1u) << 4;
            return half_at(b) * float(q - 16);
        }
        case kQ4_K: {
            const uint8_t* b = r + (j / 256) * 144;
            const int k = int(j % 256);
            const int sub = k / 32;  // sub-block 0..7; pairs (2c, 2c+1) share 32 bytes of qs
            const uint8_t* sc = b + 4;
            int s, m;
            if (sub < 4) {
                s = sc[sub] & 63;
                m = sc[sub + 4] & 63;
            } else {
                s = (sc[sub + 4] & 15) | ((sc[sub - 4] >> 6) << 4);
                m = (sc[sub + 4] >> 4) | ((sc[sub] >> 6) << 4);
            }
            const uint8_t byte = b[16 + (sub / 2) * 32 + k % 32];
            const int q = (sub % 2 == 0) ? (byte & 15) : (byte >> 4);
            return half_at(b) * float(s) * float(q) - half_at(b + 2) * float(m);
        }
        case kQ6_K: {
            const uint8_t* b = r + (j / 256) * 210;
            const int k = int(j % 256);
            const int half = k / 128, w = k % 128, quarter = w / 32, l = w % 32;
            const uint8_t* ql = b + half * 64;
            const uint8_t* qh = b + 128 + half * 32;
            const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192) + half * 8;
            const int low = quarter == 0 ? (ql[l] & 15) : quarter == 1 ? (ql[l + 32] & 15)
                          : quarter == 2 ? (ql[l] >> 4) : (ql[l + 32] >> 4);
            const int high = (qh[l] >> (2 * quarter)) & 3;
            const int q = (low | high << 4) - 32;
            return half_at(b + 208) * float(sc[l / 16 + 2 * quarter]) * float(q);
        }
        default: return 0.0f;  // supports_op() admits only the types above
    }
}

// Bytes of one 32-element block of the legacy formats (0 for any other type).
HEARTH_HD constexpr int block32_bytes(uint32_t type) {
    return type == kQ8_0 ? 34 : type == kQ4_0 ? 18 : type == kQ5_0 ? 22 : 0;
}

// dot(block, x[0..32)) for one Q8_0 / Q4_0 / Q5_0 block: the scale is read once and the integer
// quants are summed against x before one multiply (the decode kernel's inner step).
HEARTH_HD float dot_block32(uint32_t type, const uint8_t* b, const float* x) {
    float acc = 0.0f;
    if (type == kQ8_0) {
        for (int k = 0; k < 32; ++k) acc += float(int8_t(b[2 + k])) * x[k];
    } else if (type == kQ4_0) {
        for (int k = 0; k < 16; ++k)
            acc += float((b[2 + k] & 15) - 8) * x[k] + float((b[2 + k] >> 4) - 8) * x[k + 16];
    } else {  // Q5_0
        const uint32_t qh = uint32_t(b[2]) | uint32_t(b[3]) << 8 | uint32_t(b[4]) << 16 | uint32_t(b[5]) << 24;
        for (int k = 0; k < 16; ++k) {
            const int lo = (b[6 + k] & 15) | int((qh >> k) & 1u) << 4;
            const int hi = (b[6 + k] >> 4) | int((qh >> (k + 16)) & 1u) << 4;
            acc += float(lo - 16) * x[k] + float(hi - 16) * x[k + 16];
        }
    }
    return half_at(b) * acc;
}

}  // namespace hearth::cuda
