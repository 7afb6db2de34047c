/*
 * Converters Lua calls through FFI function pointers, so that they cost no
 * gate call (lj/lua/converters.lua): base64 in both alphabets and the
 * 32-bit hashes. Their Go twins in lj/convert.go stay the reference; lj's
 * tests compare the two.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "bridge.h"

static const char le_b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char le_b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t le_b64_encode(char *dst, const unsigned char *p, size_t n, const char *abc, int pad)
{
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		dst[o++] = abc[v >> 18 & 63];
		dst[o++] = abc[v >> 12 & 63];
		dst[o++] = abc[v >> 6 & 63];
		dst[o++] = abc[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		dst[o++] = abc[v >> 18 & 63];
		dst[o++] = abc[v >> 12 & 63];
		if (pad) {
			dst[o++] = '=';
			dst[o++] = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		dst[o++] = abc[v >> 18 & 63];
		dst[o++] = abc[v >> 12 & 63];
		dst[o++] = abc[v >> 6 & 63];
		if (pad)
			dst[o++] = '=';
	}
	return o;
}

static int le_b64_val(const char *abc, unsigned char c)
{
	const char *q = c ? memchr(abc, c, 64) : NULL;
	return q ? (int)(q - abc) : -1;
}

/* le_b64_decode decodes n characters of abc (no padding left), refusing
 * non-zero bits after the last byte, as Go's Strict decoders. */
static int le_b64_decode(char *dst, const char *p, size_t n, const char *abc, size_t *outn)
{
	size_t o = 0, i = 0;
	if (n % 4 == 1)
		return -1;
	for (; i < n; i += 4) {
		size_t k = n - i < 4 ? n - i : 4;
		uint32_t v = 0;
		for (size_t j = 0; j < 4; j++) {
			int d = 0;
			if (j < k && (d = le_b64_val(abc, (unsigned char)p[i + j])) < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		if (k == 2 && (v & 0xffff) != 0)
			return -1;
		if (k == 3 && (v & 0xff) != 0)
			return -1;
		dst[o++] = (char)(v >> 16);
		if (k > 2)
			dst[o++] = (char)(v >> 8);
		if (k > 3)
			dst[o++] = (char)v;
	}
	*outn = o;
	return 0;
}

/* le_b64 runs base64 mode on n bytes at p into out (replacing what it held):
 * LE_B64_ENC and LE_B64_DEC in the standard alphabet with padding (decoding
 * requires it, as HAProxy's b64dec), LE_B64_UENC and LE_B64_UDEC in the URL
 * alphabet without (decoding ignores trailing '='). It returns -1 for input
 * that does not decode or when memory runs out. */
int le_b64(le_buf *out, const char *p, size_t n, int mode)
{
	out->len = 0;
	if (le_buf_reserve(out, n / 3 * 4 + 4) != 0)
		return -1;
	size_t o = 0;
	switch (mode) {
	case LE_B64_ENC:
		o = le_b64_encode(out->p, (const unsigned char *)p, n, le_b64_std, 1);
		break;
	case LE_B64_UENC:
		o = le_b64_encode(out->p, (const unsigned char *)p, n, le_b64_url, 0);
		break;
	case LE_B64_DEC: {
		if (n % 4 != 0)
			return -1;
		size_t pad = 0;
		while (pad < n && p[n - 1 - pad] == '=')
			pad++;
		if (pad > 2 || (pad > 0 && (n - pad) % 4 != 4 - pad))
			return -1;
		if (le_b64_decode(out->p, p, n - pad, le_b64_std, &o) != 0)
			return -1;
		break;
	}
	case LE_B64_UDEC:
		while (n > 0 && p[n - 1] == '=')
			n--;
		if (le_b64_decode(out->p, p, n, le_b64_url, &o) != 0)
			return -1;
		break;
	default:
		return -1;
	}
	out->len = (uint32_t)o;
	return 0;
}

static uint32_t le_crc_table[2][256];
static pthread_once_t le_crc_once = PTHREAD_ONCE_INIT;

static void le_crc_init(void)
{
	static const uint32_t poly[2] = {0xedb88320u, 0x82f63b78u}; /* IEEE, Castagnoli */
	for (int t = 0; t < 2; t++)
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = c & 1 ? poly[t] ^ (c >> 1) : c >> 1;
			le_crc_table[t][i] = c;
		}
}

static uint32_t le_rotl(uint32_t x, uint32_t n) { return n == 0 ? x : (x << n | x >> (32 - n)); }

/* le_hash returns hash alg (LE_HASH_*) of n bytes at p, avalanched (Bob
 * Jenkins' integer hash, then times 3221225473) when avalanche is set:
 * HAProxy's crc32, crc32c, djb2, sdbm and wt6 converters. */
uint32_t le_hash(int alg, const char *p, size_t n, int avalanche)
{
	const unsigned char *s = (const unsigned char *)p;
	uint32_t h = 0;
	switch (alg) {
	case LE_HASH_CRC32:
	case LE_HASH_CRC32C: {
		pthread_once(&le_crc_once, le_crc_init);
		const uint32_t *tab = le_crc_table[alg == LE_HASH_CRC32C];
		h = 0xffffffffu;
		for (size_t i = 0; i < n; i++)
			h = tab[(h ^ s[i]) & 0xff] ^ (h >> 8);
		h = ~h;
		break;
	}
	case LE_HASH_DJB2:
		h = 5381;
		for (size_t i = 0; i < n; i++)
			h = h * 33 + s[i];
		break;
	case LE_HASH_SDBM:
		for (size_t i = 0; i < n; i++)
			h = s[i] + (h << 6) + (h << 16) - h;
		break;
	case LE_HASH_WT6: {
		uint32_t h0 = 0xa53c965au, h1 = 0x5ca6953au, r0 = 6, r1 = 18;
		for (size_t i = 0; i < n; i++) {
			uint32_t c = s[i];
			h0 = ~(h0 ^ c);
			h1 = ~(h1 + c);
			uint32_t n0 = le_rotl(h1, r0), n1 = le_rotl(h0, r1);
			h0 = n0;
			h1 = n1;
			uint32_t t = (h0 >> 16 ^ h1) & 0xffff;
			r0 = t & 0x1f;
			r1 = t >> 11;
		}
		h = h0 ^ h1;
		break;
	}
	}
	if (avalanche) {
		h = (h + 0x7ed55d16u) + (h << 12);
		h = (h ^ 0xc761c23cu) ^ (h >> 19);
		h = (h + 0x165667b1u) + (h << 5);
		h = (h + 0xd3a2646cu) ^ (h << 9);
		h = (h + 0xfd7046c5u) + (h << 3);
		h = (h ^ 0xb55a4f09u) ^ (h >> 16);
		h *= 3221225473u;
	}
	return h;
}

/* XXH32's primes (the xxHash specification). */
#define LE_XXP1 2654435761u
#define LE_XXP2 2246822519u
#define LE_XXP3 3266489917u
#define LE_XXP4 668265263u
#define LE_XXP5 374761393u

/* le_read32 reads 4 bytes at p as a little-endian integer, as XXH32 does
 * whatever the machine's order. */
static uint32_t le_read32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t le_xxh32_round(uint32_t acc, uint32_t lane)
{
	acc += lane * LE_XXP2;
	return le_rotl(acc, 13) * LE_XXP1;
}

/* le_xxh32 returns XXH32 of n bytes at p with seed: HAProxy's xxh32
 * converter. */
uint32_t le_xxh32(const char *p, size_t n, uint32_t seed)
{
	const unsigned char *s = (const unsigned char *)p, *end = s + n;
	uint32_t h;
	if (n >= 16) {
		uint32_t v1 = seed + LE_XXP1 + LE_XXP2, v2 = seed + LE_XXP2, v3 = seed, v4 = seed - LE_XXP1;
		for (; end - s >= 16; s += 16) {
			v1 = le_xxh32_round(v1, le_read32(s));
			v2 = le_xxh32_round(v2, le_read32(s + 4));
			v3 = le_xxh32_round(v3, le_read32(s + 8));
			v4 = le_xxh32_round(v4, le_read32(s + 12));
		}
		h = le_rotl(v1, 1) + le_rotl(v2, 7) + le_rotl(v3, 12) + le_rotl(v4, 18);
	} else {
		h = seed + LE_XXP5;
	}
	h += (uint32_t)n;
	for (; end - s >= 4; s += 4)
		h = le_rotl(h + le_read32(s) * LE_XXP3, 17) * LE_XXP4;
	for (; s < end; s++)
		h = le_rotl(h + *s * LE_XXP5, 11) * LE_XXP1;
	h ^= h >> 15;
	h *= LE_XXP2;
	h ^= h >> 13;
	h *= LE_XXP3;
	h ^= h >> 16;
	return h;
}

/* XXH64's primes (the xxHash specification). */
#define LE_XXQ1 0x9E3779B185EBCA87ull
#define LE_XXQ2 0xC2B2AE3D27D4EB4Full
#define LE_XXQ3 0x165667B19E3779F9ull
#define LE_XXQ4 0x85EBCA77C2B2AE63ull
#define LE_XXQ5 0x27D4EB2F165667C5ull

static uint64_t le_rotl64(uint64_t x, unsigned n) { return x << n | x >> (64 - n); }

static uint64_t le_read64(const unsigned char *p)
{
	return (uint64_t)le_read32(p) | (uint64_t)le_read32(p + 4) << 32;
}

static uint64_t le_xxh64_round(uint64_t acc, uint64_t lane)
{
	acc += lane * LE_XXQ2;
	return le_rotl64(acc, 31) * LE_XXQ1;
}

static uint64_t le_xxh64_merge(uint64_t h, uint64_t v)
{
	h ^= le_xxh64_round(0, v);
	return h * LE_XXQ1 + LE_XXQ4;
}

static uint64_t le_xxh64_avalanche(uint64_t h)
{
	h ^= h >> 33;
	h *= LE_XXQ2;
	h ^= h >> 29;
	h *= LE_XXQ3;
	h ^= h >> 32;
	return h;
}

/* le_xxh64 returns XXH64 of n bytes at p with seed, as the signed integer
 * HAProxy's xxh64 converter makes of it. */
int64_t le_xxh64(const char *p, size_t n, uint64_t seed)
{
	const unsigned char *s = (const unsigned char *)p, *end = s + n;
	uint64_t h;
	if (n >= 32) {
		uint64_t v1 = seed + LE_XXQ1 + LE_XXQ2, v2 = seed + LE_XXQ2, v3 = seed, v4 = seed - LE_XXQ1;
		for (; end - s >= 32; s += 32) {
			v1 = le_xxh64_round(v1, le_read64(s));
			v2 = le_xxh64_round(v2, le_read64(s + 8));
			v3 = le_xxh64_round(v3, le_read64(s + 16));
			v4 = le_xxh64_round(v4, le_read64(s + 24));
		}
		h = le_rotl64(v1, 1) + le_rotl64(v2, 7) + le_rotl64(v3, 12) + le_rotl64(v4, 18);
		h = le_xxh64_merge(h, v1);
		h = le_xxh64_merge(h, v2);
		h = le_xxh64_merge(h, v3);
		h = le_xxh64_merge(h, v4);
	} else {
		h = seed + LE_XXQ5;
	}
	h += (uint64_t)n;
	for (; end - s >= 8; s += 8)
		h = le_rotl64(h ^ le_xxh64_round(0, le_read64(s)), 27) * LE_XXQ1 + LE_XXQ4;
	if (end - s >= 4) {
		h = le_rotl64(h ^ (uint64_t)le_read32(s) * LE_XXQ1, 23) * LE_XXQ2 + LE_XXQ3;
		s += 4;
	}
	for (; s < end; s++)
		h = le_rotl64(h ^ *s * LE_XXQ5, 11) * LE_XXQ1;
	return (int64_t)le_xxh64_avalanche(h);
}

/* XXH3's default secret, published with the algorithm. */
static const unsigned char le_xxh3_secret[192] = {
	0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
	0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
	0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
	0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
	0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
	0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
	0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
	0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
	0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
	0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
	0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
	0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
};

/* le_fold64 is the 128-bit product of a and b, its halves xored. */
static uint64_t le_fold64(uint64_t a, uint64_t b)
{
	unsigned __int128 m = (unsigned __int128)a * b;
	return (uint64_t)m ^ (uint64_t)(m >> 64);
}

static uint64_t le_xxh3_avalanche(uint64_t h)
{
	h ^= h >> 37;
	h *= 0x165667919E3779F9ull;
	return h ^ h >> 32;
}

static uint64_t le_xxh3_mix16(const unsigned char *in, const unsigned char *sec, uint64_t seed)
{
	return le_fold64(le_read64(in) ^ (le_read64(sec) + seed), le_read64(in + 8) ^ (le_read64(sec + 8) - seed));
}

/* le_xxh3_acc512 adds a 64-byte stripe to the eight accumulators. */
static void le_xxh3_acc512(uint64_t acc[8], const unsigned char *in, const unsigned char *sec)
{
	for (int i = 0; i < 8; i++) {
		uint64_t v = le_read64(in + 8 * i), k = v ^ le_read64(sec + 8 * i);
		acc[i ^ 1] += v;
		acc[i] += (k & 0xffffffffull) * (k >> 32);
	}
}

/* le_xxh3_long hashes more than 240 bytes with sec, the default secret
 * shifted by the seed. */
static uint64_t le_xxh3_long(const unsigned char *in, size_t n, const unsigned char *sec)
{
	uint64_t acc[8] = {
		LE_XXP3, LE_XXQ1, LE_XXQ2, LE_XXQ3, LE_XXQ4, LE_XXP2, LE_XXQ5, LE_XXP1,
	};
	const size_t stripes = (192 - 64) / 8, block = 64 * stripes, blocks = (n - 1) / block;
	for (size_t b = 0; b < blocks; b++) {
		for (size_t i = 0; i < stripes; i++)
			le_xxh3_acc512(acc, in + b * block + i * 64, sec + i * 8);
		for (int i = 0; i < 8; i++) {
			uint64_t a = acc[i];
			a ^= a >> 47;
			a ^= le_read64(sec + 192 - 64 + 8 * i);
			acc[i] = a * LE_XXP1;
		}
	}
	size_t last = ((n - 1) - block * blocks) / 64;
	for (size_t i = 0; i < last; i++)
		le_xxh3_acc512(acc, in + blocks * block + i * 64, sec + i * 8);
	le_xxh3_acc512(acc, in + n - 64, sec + 192 - 64 - 7);
	uint64_t h = (uint64_t)n * LE_XXQ1;
	for (int i = 0; i < 4; i++)
		h += le_fold64(acc[2 * i] ^ le_read64(sec + 11 + 16 * i), acc[2 * i + 1] ^ le_read64(sec + 11 + 16 * i + 8));
	return le_xxh3_avalanche(h);
}

/* le_xxh3 returns XXH3's 64-bit hash of n bytes at p with seed, as the
 * signed integer HAProxy's xxh3 converter makes of it. */
int64_t le_xxh3(const char *p, size_t n, uint64_t seed)
{
	const unsigned char *in = (const unsigned char *)p, *sec = le_xxh3_secret;
	uint64_t h;
	if (n == 0) {
		h = le_xxh64_avalanche(seed ^ le_read64(sec + 56) ^ le_read64(sec + 64));
	} else if (n <= 3) {
		uint32_t c = (uint32_t)in[0] << 16 | (uint32_t)in[n >> 1] << 24 | in[n - 1] | (uint32_t)n << 8;
		h = le_xxh64_avalanche((uint64_t)c ^ ((uint64_t)(le_read32(sec) ^ le_read32(sec + 4)) + seed));
	} else if (n <= 8) {
		uint32_t s32 = (uint32_t)seed;
		seed ^= (uint64_t)__builtin_bswap32(s32) << 32;
		uint64_t x = ((uint64_t)le_read32(in + n - 4) + ((uint64_t)le_read32(in) << 32)) ^ ((le_read64(sec + 8) ^ le_read64(sec + 16)) - seed);
		x ^= le_rotl64(x, 49) ^ le_rotl64(x, 24);
		x *= 0x9FB21C651E98DF25ull;
		x ^= (x >> 35) + n;
		x *= 0x9FB21C651E98DF25ull;
		h = x ^ x >> 28;
	} else if (n <= 16) {
		uint64_t lo = le_read64(in) ^ ((le_read64(sec + 24) ^ le_read64(sec + 32)) + seed);
		uint64_t hi = le_read64(in + n - 8) ^ ((le_read64(sec + 40) ^ le_read64(sec + 48)) - seed);
		h = le_xxh3_avalanche(n + __builtin_bswap64(lo) + hi + le_fold64(lo, hi));
	} else if (n <= 128) {
		h = n * LE_XXQ1;
		if (n > 32) {
			if (n > 64) {
				if (n > 96) {
					h += le_xxh3_mix16(in + 48, sec + 96, seed);
					h += le_xxh3_mix16(in + n - 64, sec + 112, seed);
				}
				h += le_xxh3_mix16(in + 32, sec + 64, seed);
				h += le_xxh3_mix16(in + n - 48, sec + 80, seed);
			}
			h += le_xxh3_mix16(in + 16, sec + 32, seed);
			h += le_xxh3_mix16(in + n - 32, sec + 48, seed);
		}
		h += le_xxh3_mix16(in, sec, seed);
		h += le_xxh3_mix16(in + n - 16, sec + 16, seed);
		h = le_xxh3_avalanche(h);
	} else if (n <= 240) {
		h = n * LE_XXQ1;
		for (size_t i = 0; i < 8; i++)
			h += le_xxh3_mix16(in + 16 * i, sec + 16 * i, seed);
		h = le_xxh3_avalanche(h);
		for (size_t i = 8; i < n / 16; i++)
			h += le_xxh3_mix16(in + 16 * i, sec + 16 * (i - 8) + 3, seed);
		h += le_xxh3_mix16(in + n - 16, sec + 136 - 17, seed);
		h = le_xxh3_avalanche(h);
	} else {
		/* The seed shifts the secret: added to its first words, taken
		 * from its second ones. */
		unsigned char shifted[192];
		for (int i = 0; i < 192; i += 16) {
			uint64_t a = le_read64(sec + i) + seed, b = le_read64(sec + i + 8) - seed;
			for (int j = 0; j < 8; j++) {
				shifted[i + j] = (unsigned char)(a >> (8 * j));
				shifted[i + 8 + j] = (unsigned char)(b >> (8 * j));
			}
		}
		h = le_xxh3_long(in, n, shifted);
	}
	return (int64_t)h;
}
