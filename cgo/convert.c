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
