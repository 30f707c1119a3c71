//! AES-128-GCM / GMAC / AES-CMAC through OpenSSL (EVP for GCM encryption and decryption, the GCM
//! mode API for GHASH-only tags, AES blocks for CMAC), declared by hand.
//! Inside node these symbols bind to the copy of OpenSSL that the node binary exports; for
//! `cargo test` the system libcrypto is linked (only under cfg(test), see the #[link] below).

use std::os::raw::{c_int, c_void};

#[repr(C)]
pub struct EvpCipherCtx {
    _p: [u8; 0],
}
#[repr(C)]
pub struct EvpCipher {
    _p: [u8; 0],
}

#[cfg_attr(test, link(name = "crypto"))]
extern "C" {
    fn EVP_CIPHER_CTX_new() -> *mut EvpCipherCtx;
    fn EVP_CIPHER_CTX_free(c: *mut EvpCipherCtx);
    fn EVP_CIPHER_CTX_ctrl(c: *mut EvpCipherCtx, typ: c_int, arg: c_int, ptr: *mut c_void) -> c_int;
    fn EVP_aes_128_gcm() -> *const EvpCipher;
    fn EVP_EncryptInit_ex(
        c: *mut EvpCipherCtx,
        t: *const EvpCipher,
        e: *mut c_void,
        key: *const u8,
        iv: *const u8,
    ) -> c_int;
    fn EVP_EncryptUpdate(c: *mut EvpCipherCtx, out: *mut u8, outl: *mut c_int, inp: *const u8, inl: c_int) -> c_int;
    fn EVP_EncryptFinal_ex(c: *mut EvpCipherCtx, out: *mut u8, outl: *mut c_int) -> c_int;
    fn EVP_DecryptInit_ex(
        c: *mut EvpCipherCtx,
        t: *const EvpCipher,
        e: *mut c_void,
        key: *const u8,
        iv: *const u8,
    ) -> c_int;
    fn EVP_DecryptUpdate(c: *mut EvpCipherCtx, out: *mut u8, outl: *mut c_int, inp: *const u8, inl: c_int) -> c_int;
    fn EVP_DecryptFinal_ex(c: *mut EvpCipherCtx, out: *mut u8, outl: *mut c_int) -> c_int;
    fn RAND_bytes(buf: *mut u8, num: c_int) -> c_int;
    fn EVP_MD_CTX_new() -> *mut c_void;
    fn EVP_MD_CTX_free(c: *mut c_void);
    fn EVP_sha256() -> *const c_void;
    fn EVP_DigestInit_ex(c: *mut c_void, md: *const c_void, e: *mut c_void) -> c_int;
    fn EVP_DigestUpdate(c: *mut c_void, d: *const u8, n: usize) -> c_int;
    fn EVP_DigestFinal_ex(c: *mut c_void, md: *mut u8, n: *mut u32) -> c_int;
    // The GCM mode API of <openssl/modes.h> and the AES block cipher of <openssl/aes.h>, for
    // tags that need GHASH but no keystream (see `Ghash`).
    fn AES_set_encrypt_key(key: *const u8, bits: c_int, aes: *mut AesKey) -> c_int;
    fn AES_encrypt(inp: *const u8, out: *mut u8, aes: *const AesKey);
    fn CRYPTO_gcm128_new(aes: *const AesKey, block: Block128) -> *mut c_void;
    fn CRYPTO_gcm128_init(ctx: *mut c_void, aes: *const AesKey, block: Block128);
    fn CRYPTO_gcm128_setiv(ctx: *mut c_void, iv: *const u8, len: usize);
    fn CRYPTO_gcm128_aad(ctx: *mut c_void, aad: *const u8, len: usize) -> c_int;
    fn CRYPTO_gcm128_decrypt_ctr32(ctx: *mut c_void, inp: *const u8, out: *mut u8, len: usize, stream: Ctr128)
        -> c_int;
    fn CRYPTO_gcm128_tag(ctx: *mut c_void, tag: *mut u8, len: usize);
    fn CRYPTO_gcm128_release(ctx: *mut c_void);
}

type Block128 = unsafe extern "C" fn(inp: *const u8, out: *mut u8, aes: *const AesKey);
type Ctr128 = unsafe extern "C" fn(inp: *const u8, out: *mut u8, blocks: usize, aes: *const AesKey, ivec: *const u8);

/// OpenSSL's AES_KEY: at most 60 round-key words plus the round count; sized for the 8-byte-word
/// build (AES_LONG) so it is large enough either way.
#[repr(C, align(16))]
struct AesKey([u64; 62]);

const EVP_CTRL_GCM_GET_TAG: c_int = 0x10;
const EVP_CTRL_GCM_SET_TAG: c_int = 0x11;
const ZERO_IV: [u8; 12] = [0u8; 12];

pub type Key = [u8; 16];
pub type Tag = [u8; 16];

/// One encrypt and one decrypt GCM context. The key schedule is kept while consecutive nodes use
/// the same key (always the case for integrity-only files, whose keys are all zero).
pub struct Gcm {
    enc: *mut EvpCipherCtx,
    dec: *mut EvpCipherCtx,
    enc_key: Option<Key>,
    dec_key: Option<Key>,
    ghash: Option<Ghash>,
}

// The contexts are owned exclusively by this struct; moving it to another thread is fine.
unsafe impl Send for Gcm {}

impl Drop for Gcm {
    fn drop(&mut self) {
        unsafe {
            EVP_CIPHER_CTX_free(self.enc);
            EVP_CIPHER_CTX_free(self.dec);
        }
    }
}

fn cint(len: usize) -> c_int {
    assert!(len <= i32::MAX as usize);
    len as c_int
}

impl Gcm {
    pub fn new() -> Gcm {
        let (enc, dec) = unsafe { (EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_new()) };
        assert!(!enc.is_null() && !dec.is_null(), "EVP_CIPHER_CTX_new failed");
        Gcm {
            enc,
            dec,
            enc_key: None,
            dec_key: None,
            ghash: None,
        }
    }

    fn init_enc(&mut self, key: &Key) {
        rekey(self.enc, &mut self.enc_key, key, EVP_EncryptInit_ex);
    }

    fn init_dec(&mut self, key: &Key) {
        rekey(self.dec, &mut self.dec_key, key, EVP_DecryptInit_ex);
    }

    /// GMAC: GCM with empty plaintext and `aad` as additional data (integrity-only nodes).
    pub fn gmac(&mut self, key: &Key, aad: &[u8]) -> Tag {
        self.ghash().tag(key, aad, &[])
    }

    /// AES-GCM encrypt `buf` in place (zero IV, no AAD); returns the tag.
    pub fn encrypt(&mut self, key: &Key, buf: &mut [u8]) -> Tag {
        self.init_enc(key);
        let mut tag = [0u8; 16];
        unsafe {
            let mut outl: c_int = 0;
            assert!(EVP_EncryptUpdate(self.enc, buf.as_mut_ptr(), &mut outl, buf.as_ptr(), cint(buf.len())) == 1);
            let mut fin = [0u8; 16];
            assert!(EVP_EncryptFinal_ex(self.enc, fin.as_mut_ptr(), &mut outl) == 1);
            assert!(EVP_CIPHER_CTX_ctrl(self.enc, EVP_CTRL_GCM_GET_TAG, 16, tag.as_mut_ptr() as *mut c_void) == 1);
        }
        tag
    }

    /// AES-GCM decrypt `buf` in place and check `tag`. On failure `buf` holds garbage.
    pub fn decrypt(&mut self, key: &Key, buf: &mut [u8], tag: &Tag) -> bool {
        let src = buf.as_ptr();
        self.decrypt_raw(key, src, buf, tag)
    }

    /// Check the GCM tag of ciphertext `ct` (zero IV, no AAD) without decrypting it, for nodes
    /// whose plaintext nobody needs: GHASH only, no keystream.
    pub fn check_tag(&mut self, key: &Key, ct: &[u8], tag: &Tag) -> bool {
        self.ghash().tag(key, &[], ct) == *tag
    }

    fn ghash(&mut self) -> &mut Ghash {
        self.ghash.get_or_insert_with(Ghash::new)
    }

    /// AES-GCM decrypt `src` into `out` (same length) and check `tag`.
    pub fn decrypt_to(&mut self, key: &Key, src: &[u8], out: &mut [u8], tag: &Tag) -> bool {
        assert_eq!(src.len(), out.len());
        self.decrypt_raw(key, src.as_ptr(), out, tag)
    }

    fn decrypt_raw(&mut self, key: &Key, src: *const u8, buf: &mut [u8], tag: &Tag) -> bool {
        self.init_dec(key);
        unsafe {
            let mut outl: c_int = 0;
            assert!(EVP_DecryptUpdate(self.dec, buf.as_mut_ptr(), &mut outl, src, cint(buf.len())) == 1);
            let mut t = *tag;
            assert!(EVP_CIPHER_CTX_ctrl(self.dec, EVP_CTRL_GCM_SET_TAG, 16, t.as_mut_ptr() as *mut c_void) == 1);
            let mut fin = [0u8; 16];
            EVP_DecryptFinal_ex(self.dec, fin.as_mut_ptr(), &mut outl) > 0
        }
    }
}

type InitFn = unsafe extern "C" fn(*mut EvpCipherCtx, *const EvpCipher, *mut c_void, *const u8, *const u8) -> c_int;

/// Points a GCM context (`current` is its key) at `key` with the zero IV. The cipher is bound once;
/// later inits pass only the key (a new key schedule, no cipher fetch or context rebuild) or, for
/// the same key, only the IV.
fn rekey(ctx: *mut EvpCipherCtx, current: &mut Option<Key>, key: &Key, init: InitFn) {
    use std::ptr::{null, null_mut};
    let ok = unsafe {
        match current {
            Some(k) if k == key => init(ctx, null(), null_mut(), null(), ZERO_IV.as_ptr()),
            Some(_) => init(ctx, null(), null_mut(), key.as_ptr(), ZERO_IV.as_ptr()),
            None => init(ctx, EVP_aes_128_gcm(), null_mut(), key.as_ptr(), ZERO_IV.as_ptr()),
        }
    };
    assert!(ok == 1, "EVP cipher init failed");
    *current = Some(*key);
}

/// GCM tags through OpenSSL's mode-level API, which authenticates ciphertext without producing
/// plaintext: CRYPTO_gcm128_decrypt_ctr32 GHASHes its input and leaves the keystream to the
/// `stream` callback, here one that does nothing. Per node this costs one AES key schedule and
/// the GHASH pass, about 0.65 µs for 4 KiB against 1.2 µs for a full EVP decrypt with a fresh key.
/// The mode calls the block cipher only for H = AES_K(0) and the tag mask AES_K(J0).
struct Ghash {
    ctx: *mut c_void,
    aes: Box<AesKey>,
    block: BlockCipher,
    key: Option<Key>,
    /// Where the mode API may write the plaintext of a partial last block (never read).
    sink: Vec<u8>,
}

/// The AES-128 block function the mode API calls. OpenSSL exports only its table-based AES here
/// (its AES-NI code sits behind EVP, whose per-key setup costs more than the two blocks a node
/// needs), so with AES-NI present the two blocks come from the AES instructions directly.
#[derive(Clone, Copy)]
struct BlockCipher {
    set_key: unsafe fn(&Key, &mut AesKey),
    encrypt: Block128,
}

fn block_cipher() -> BlockCipher {
    static CHOICE: std::sync::OnceLock<BlockCipher> = std::sync::OnceLock::new();
    *CHOICE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if std::env::var_os("OCCLUM_STUDIO_NO_AESNI").is_none() && std::arch::is_x86_feature_detected!("aes") {
            return BlockCipher {
                set_key: aesni::set_key,
                encrypt: aesni::encrypt,
            };
        }
        openssl_block_cipher()
    })
}

fn openssl_block_cipher() -> BlockCipher {
    unsafe fn set_key(key: &Key, aes: &mut AesKey) {
        assert!(AES_set_encrypt_key(key.as_ptr(), 128, aes) == 0);
    }
    BlockCipher {
        set_key,
        encrypt: AES_encrypt,
    }
}

/// AES-128 encryption of single blocks with the AES-NI instructions (FIPS-197 key expansion).
#[cfg(target_arch = "x86_64")]
mod aesni {
    use super::{AesKey, Key};
    use std::arch::x86_64::*;

    /// Expands `key` into the 11 round keys, stored at the start of `aes`.
    pub unsafe fn set_key(key: &Key, aes: &mut AesKey) {
        expand(key, aes)
    }

    #[target_feature(enable = "aes,sse2")]
    unsafe fn expand(key: &Key, aes: &mut AesKey) {
        let rk = aes.0.as_mut_ptr() as *mut __m128i;
        let mut k = _mm_loadu_si128(key.as_ptr() as *const __m128i);
        _mm_store_si128(rk, k);
        macro_rules! round {
            ($i:expr, $rcon:expr) => {
                let g = _mm_shuffle_epi32(_mm_aeskeygenassist_si128(k, $rcon), 0xff);
                k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
                k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
                k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
                k = _mm_xor_si128(k, g);
                _mm_store_si128(rk.add($i), k);
            };
        }
        round!(1, 0x01);
        round!(2, 0x02);
        round!(3, 0x04);
        round!(4, 0x08);
        round!(5, 0x10);
        round!(6, 0x20);
        round!(7, 0x40);
        round!(8, 0x80);
        round!(9, 0x1b);
        round!(10, 0x36);
    }

    #[target_feature(enable = "aes,sse2")]
    pub unsafe extern "C" fn encrypt(inp: *const u8, out: *mut u8, aes: *const AesKey) {
        let rk = (*aes).0.as_ptr() as *const __m128i;
        let mut b = _mm_xor_si128(_mm_loadu_si128(inp as *const __m128i), _mm_load_si128(rk));
        for i in 1..10 {
            b = _mm_aesenc_si128(b, _mm_load_si128(rk.add(i)));
        }
        b = _mm_aesenclast_si128(b, _mm_load_si128(rk.add(10)));
        _mm_storeu_si128(out as *mut __m128i, b);
    }
}

unsafe extern "C" fn no_keystream(_: *const u8, _: *mut u8, _: usize, _: *const AesKey, _: *const u8) {}

impl Ghash {
    fn new() -> Ghash {
        let block = block_cipher();
        let mut aes = Box::new(AesKey([0; 62]));
        let ctx = unsafe {
            (block.set_key)(&[0u8; 16], &mut aes);
            CRYPTO_gcm128_new(&*aes, block.encrypt)
        };
        assert!(!ctx.is_null(), "CRYPTO_gcm128_new failed");
        Ghash {
            ctx,
            aes,
            block,
            key: None,
            sink: Vec::new(),
        }
    }

    /// The GCM tag (zero IV) of additional data `aad` followed by ciphertext `ct`.
    fn tag(&mut self, key: &Key, aad: &[u8], ct: &[u8]) -> Tag {
        let mut tag = [0u8; 16];
        unsafe {
            if self.key.as_ref() != Some(key) {
                (self.block.set_key)(key, &mut self.aes);
                CRYPTO_gcm128_init(self.ctx, &*self.aes, self.block.encrypt);
                self.key = Some(*key);
            }
            CRYPTO_gcm128_setiv(self.ctx, ZERO_IV.as_ptr(), ZERO_IV.len());
            if !aad.is_empty() {
                assert!(CRYPTO_gcm128_aad(self.ctx, aad.as_ptr(), aad.len()) == 0);
            }
            if !ct.is_empty() {
                if self.sink.len() < ct.len() {
                    self.sink.resize(ct.len(), 0);
                }
                assert!(
                    CRYPTO_gcm128_decrypt_ctr32(self.ctx, ct.as_ptr(), self.sink.as_mut_ptr(), ct.len(), no_keystream)
                        == 0
                );
            }
            CRYPTO_gcm128_tag(self.ctx, tag.as_mut_ptr(), 16);
        }
        tag
    }
}

impl Drop for Ghash {
    fn drop(&mut self) {
        unsafe { CRYPTO_gcm128_release(self.ctx) }
    }
}

impl Default for Gcm {
    fn default() -> Self {
        Gcm::new()
    }
}

/// AES-128 single-block encryption under one key (for CMAC).
struct Aes {
    block: BlockCipher,
    key: Box<AesKey>,
}

impl Aes {
    fn new(key: &Key) -> Aes {
        let block = block_cipher();
        let mut aes = Box::new(AesKey([0; 62]));
        unsafe { (block.set_key)(key, &mut aes) };
        Aes { block, key: aes }
    }
    fn block(&mut self, b: &mut [u8; 16]) {
        let inp = *b;
        unsafe { (self.block.encrypt)(inp.as_ptr(), b.as_mut_ptr(), &*self.key) };
    }
}

fn dbl(b: &[u8; 16]) -> [u8; 16] {
    let mut out = [0u8; 16];
    let mut carry = 0u8;
    for i in (0..16).rev() {
        out[i] = (b[i] << 1) | carry;
        carry = b[i] >> 7;
    }
    if carry == 1 {
        out[15] ^= 0x87;
    }
    out
}

/// AES-128-CMAC (RFC 4493).
pub fn cmac(key: &Key, msg: &[u8]) -> Tag {
    let mut aes = Aes::new(key);
    let mut l = [0u8; 16];
    aes.block(&mut l);
    let k1 = dbl(&l);
    let k2 = dbl(&k1);
    let n = if msg.is_empty() { 1 } else { msg.len().div_ceil(16) };
    let complete = !msg.is_empty() && msg.len() % 16 == 0;
    let mut x = [0u8; 16];
    for i in 0..n {
        let mut blk = [0u8; 16];
        let chunk = &msg[i * 16..msg.len().min(i * 16 + 16)];
        blk[..chunk.len()].copy_from_slice(chunk);
        if i == n - 1 {
            if complete {
                for j in 0..16 {
                    blk[j] ^= k1[j];
                }
            } else {
                blk[chunk.len()] = 0x80;
                for j in 0..16 {
                    blk[j] ^= k2[j];
                }
            }
        }
        for j in 0..16 {
            x[j] ^= blk[j];
        }
        aes.block(&mut x);
    }
    x
}

/// SHA-256 through OpenSSL's EVP (its SHA extensions where the CPU has them): the host build's
/// manifest hashes every file of the image layer.
pub struct Sha256(*mut c_void);

// The context is owned exclusively by this struct; moving it to another thread is fine.
unsafe impl Send for Sha256 {}

impl Sha256 {
    pub fn new() -> Sha256 {
        let c = unsafe { EVP_MD_CTX_new() };
        assert!(!c.is_null(), "EVP_MD_CTX_new failed");
        assert!(unsafe { EVP_DigestInit_ex(c, EVP_sha256(), std::ptr::null_mut()) } == 1);
        Sha256(c)
    }

    pub fn update(&mut self, data: &[u8]) {
        assert!(unsafe { EVP_DigestUpdate(self.0, data.as_ptr(), data.len()) } == 1);
    }

    pub fn finish(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut n = 0u32;
        assert!(unsafe { EVP_DigestFinal_ex(self.0, out.as_mut_ptr(), &mut n) } == 1 && n == 32);
        out
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Sha256 {
    fn drop(&mut self) {
        unsafe { EVP_MD_CTX_free(self.0) }
    }
}

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts`: a file's MAC checked or written
/// without joining its pieces into one buffer.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        let mut h = Sha256::new();
        h.update(key);
        k[..32].copy_from_slice(&h.finish());
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |x: u8| k.map(|b| b ^ x);
    let mut inner = Sha256::new();
    inner.update(&pad(0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(&pad(0x5c));
    outer.update(&inner.finish());
    outer.finish()
}

/// Cryptographically random bytes (for per-node keys and key ids of encrypted images).
pub fn random_bytes(buf: &mut [u8]) {
    let ok = unsafe { RAND_bytes(buf.as_mut_ptr(), cint(buf.len())) };
    assert!(ok == 1, "RAND_bytes failed");
}

pub fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
}

/// "xx-xx-…" as in .ROOT_MAC.
pub fn mac_string(b: &[u8]) -> String {
    b.iter().map(|x| format!("{:02x}", x)).collect::<Vec<_>>().join("-")
}

pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    fn nib(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = s.trim().as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 2);
    for pair in b.chunks_exact(2) {
        out.push(nib(pair[0])? << 4 | nib(pair[1])?);
    }
    Some(out)
}

/// Parses Occlum's "xx-xx-…-xx" (16 bytes) format used by .ROOT_MAC and image key files.
pub fn parse_dashed16(s: &str) -> Option<[u8; 16]> {
    let parts: Vec<&str> = s.trim().split('-').collect();
    if parts.len() != 16 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        out[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_rfc4231() {
        // RFC 4231 test cases 2 (short key) and 6 (a key longer than the block), split in parts.
        let t2 = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex(&t2),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let key = [0xaau8; 131];
        let t6 = hmac_sha256(&key, &[b"Test Using Larger Than Block-Size Key - Hash Key First"]);
        assert_eq!(
            hex(&t6),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn cmac_rfc4493() {
        let key: Key = parse_hex("2b7e151628aed2a6abf7158809cf4f3c")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(hex(&cmac(&key, b"")), "bb1d6929e95937287fa37d129b756746");
        let m = parse_hex("6bc1bee22e409f96e93d7e117393172a").unwrap();
        assert_eq!(hex(&cmac(&key, &m)), "070a16b46b4d4144f79bdd9dd04a287c");
        let m = parse_hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411").unwrap();
        assert_eq!(hex(&cmac(&key, &m)), "dfa66747de9ae63030ca32611497c827");
    }

    #[test]
    fn gcm_roundtrip_and_tamper() {
        let mut g = Gcm::new();
        let key = [7u8; 16];
        let mut buf = vec![1u8; 4096];
        let tag = g.encrypt(&key, &mut buf);
        let mut c = buf.clone();
        assert!(g.decrypt(&key, &mut c, &tag));
        assert_eq!(c, vec![1u8; 4096]);
        let mut c = buf.clone();
        c[100] ^= 1;
        assert!(!g.decrypt(&key, &mut c, &tag));
        // GHASH key for the zero key is AES_0(0) = 66e94bd4…; GMAC of nothing is AES_0(IV||1).
        let t = g.gmac(&[0u8; 16], b"");
        assert_eq!(hex(&t), "58e2fccefa7e3061367f1d57a4e7455a");
    }

    #[test]
    fn check_tag_agrees_with_gcm() {
        let mut g = Gcm::new();
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in [1usize, 16, 100, 4096, 4096, 4096] {
            let mut key = [0u8; 16];
            key.iter_mut().for_each(|b| *b = next() as u8);
            let plain: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let mut ct = plain.clone();
            let tag = g.encrypt(&key, &mut ct);
            assert!(g.check_tag(&key, &ct, &tag));
            let mut bad = ct.clone();
            bad[len / 2] ^= 0x40;
            assert!(!g.check_tag(&key, &bad, &tag));
            let mut other = key;
            other[0] ^= 1;
            assert!(!g.check_tag(&other, &ct, &tag));
        }
    }

    #[test]
    fn block_ciphers_match_fips197() {
        // FIPS-197 appendix C.1, through every block function this build can pick.
        let key: Key = parse_hex("000102030405060708090a0b0c0d0e0f")
            .unwrap()
            .try_into()
            .unwrap();
        let inp = parse_hex("00112233445566778899aabbccddeeff").unwrap();
        for b in [block_cipher(), openssl_block_cipher()] {
            let mut aes = Box::new(AesKey([0; 62]));
            let mut out = [0u8; 16];
            unsafe {
                (b.set_key)(&key, &mut aes);
                (b.encrypt)(inp.as_ptr(), out.as_mut_ptr(), &*aes);
            }
            assert_eq!(hex(&out), "69c4e0d86a7b0430d8cdb78070b4c55a");
        }
    }

    #[test]
    fn dashed() {
        let m = parse_dashed16("6a-f7-ba-9a-f1-09-ff-b6-d5-8d-60-89-e4-9e-e4-ab").unwrap();
        assert_eq!(mac_string(&m), "6a-f7-ba-9a-f1-09-ff-b6-d5-8d-60-89-e4-9e-e4-ab");
        assert!(parse_dashed16("6a-f7").is_none());
    }
}

#[cfg(test)]
mod bench {
    #[test]
    #[ignore]
    fn bench_gmac_gcm_nodes() {
        let mut g = super::Gcm::new();
        let buf = vec![7u8; 64 << 20];
        let t = std::time::Instant::now();
        for n in buf.chunks(4096) {
            std::hint::black_box(g.gmac(&[0u8; 16], n));
        }
        let gm = t.elapsed();
        let mut out = vec![0u8; 4096];
        let t = std::time::Instant::now();
        for (i, n) in buf.chunks(4096).enumerate() {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&(i as u64).to_le_bytes());
            std::hint::black_box(g.decrypt_to(&k, n, &mut out, &[0u8; 16]));
        }
        let dec = t.elapsed();
        let t = std::time::Instant::now();
        for (i, n) in buf.chunks(4096).enumerate() {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&(i as u64).to_le_bytes());
            std::hint::black_box(g.check_tag(&k, n, &[0u8; 16]));
        }
        let chk = t.elapsed();
        eprintln!(
            "GMAC {:.0} MiB/s, GCM decrypt with per-node key {:.0} MiB/s, check_tag with per-node key {:.0} MiB/s",
            64.0 / gm.as_secs_f64(),
            64.0 / dec.as_secs_f64(),
            64.0 / chk.as_secs_f64()
        );
    }
}
