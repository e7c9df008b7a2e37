"""hashlib.pbkdf2_hmac for Python on Pyodide, over Deno's node:crypto.

CPython 3.12 computes pbkdf2_hmac only with OpenSSL, which Pyodide's hashlib
is built without; Django hashes passwords with it. install() puts this one
into hashlib when hashlib has none.
"""

import hashlib

import _denosqlite as _js
from pyodide.ffi import JsException, to_js

# Python's names for the digests, as node:crypto spells them.
_DIGESTS = {
    "sha1": "sha1", "sha224": "sha224", "sha256": "sha256",
    "sha384": "sha384", "sha512": "sha512", "md5": "md5",
    "sha512_224": "sha512-224", "sha512_256": "sha512-256",
    "sha3_224": "sha3-224", "sha3_256": "sha3-256", "sha3_384": "sha3-384",
    "sha3_512": "sha3-512", "blake2b": "blake2b512", "blake2s": "blake2s256",
}


class UnsupportedDigestmodError(ValueError):
    """A digest pbkdf2_hmac does not know (CPython's _hashlib has one)."""


def pbkdf2_hmac(hash_name, password, salt, iterations, dklen=None):
    """Password-based key derivation function 2, with HMAC as its PRF."""
    if not isinstance(hash_name, str):
        raise TypeError(
            f"pbkdf2_hmac() argument 'hash_name' must be str, "
            f"not {type(hash_name).__name__}")
    password = bytes(memoryview(password))
    salt = bytes(memoryview(salt))
    iterations = int(iterations)
    digest = _DIGESTS.get(hash_name.lower())
    if digest is None:
        raise UnsupportedDigestmodError(
            f"unsupported hash type {hash_name}")
    if iterations < 1:
        raise ValueError("iteration value must be greater than 0.")
    if dklen is None:
        dklen = hashlib.new(hash_name).digest_size
    dklen = int(dklen)
    if dklen < 1:
        raise ValueError("key length must be greater than 0.")
    if iterations >= 2 ** 31 or dklen >= 2 ** 31:
        raise OverflowError("iteration value or key length is too great.")
    try:
        key = _js.pbkdf2(digest, to_js(password), to_js(salt), iterations,
                         dklen)
    except JsException as error:
        raise UnsupportedDigestmodError(
            f"unsupported hash type {hash_name}") from error
    return key.to_bytes()


def install():
    """Puts pbkdf2_hmac into hashlib, unless hashlib has one."""
    if not hasattr(hashlib, "pbkdf2_hmac"):
        hashlib.pbkdf2_hmac = pbkdf2_hmac
        if "pbkdf2_hmac" not in hashlib.__all__:
            hashlib.__all__ += ("pbkdf2_hmac",)
