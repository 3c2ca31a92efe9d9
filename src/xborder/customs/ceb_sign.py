"""XML-DSig for CEB messages: the declaring enterprise's enveloped ``ds:Signature``.

The schemas make ``ds:Signature`` the last element of a message (CEB621 requires it; the export
lists may carry it before ExtendMessage, which the platform never writes). The signature is
enveloped over the whole message (``Reference URI=""``), canonicalised with inclusive C14N 1.0
(what the China E-Port signing clients use), with the enterprise's RSA key and its X.509
certificate in ``KeyInfo``.

Algorithm: RSA-SHA256 with SHA-256 digests by default. The E-Port's own signing client (the
enterprise's card or ukey) has historically produced RSA-SHA1 (``xmldsig#rsa-sha1``, SHA-1
digest), and SM2-SM3 with national-crypto cards; SHA-1 is broken for collision resistance and
signxml refuses it unless asked, so ``rsa-sha1`` is available only on request, for a receiving
system that verifies nothing else. SM2 is not supported here: sign such messages with the card's
own client (``--unsigned``).
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from xborder.customs.ceb import DS, safe_root
from xborder.domain.errors import InvalidValue

C14N_1_0 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ALGORITHMS = {
    "rsa-sha256": ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "sha256"),
    "rsa-sha1": ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "sha1"),
}
DEFAULT_ALGORITHM = "rsa-sha256"


def _signer(algorithm: str) -> Any:
    from signxml import XMLSigner  # type: ignore[attr-defined]

    if algorithm not in ALGORITHMS:
        raise InvalidValue("algorithm", f"must be one of {', '.join(ALGORITHMS)}", algorithm)
    method, digest = ALGORITHMS[algorithm]

    class _CebSigner(XMLSigner):
        def check_deprecated_methods(self) -> None:
            if algorithm != "rsa-sha1":  # SHA-1 only when asked for by name
                super().check_deprecated_methods()  # type: ignore[no-untyped-call]

    return _CebSigner(signature_algorithm=method, digest_algorithm=digest, c14n_algorithm=C14N_1_0)


def sign(body: bytes, key_pem: bytes, cert_pem: bytes, algorithm: str = DEFAULT_ALGORITHM) -> bytes:
    """The message ``body`` with an enveloped ``ds:Signature`` as its last element."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    root = safe_root(body)
    if any(etree.QName(c).namespace == DS for c in root):
        raise InvalidValue("xml", "the message is already signed")
    try:
        key = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidValue("key", f"not an unencrypted PEM private key: {exc}") from None
    try:
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise InvalidValue("cert", f"not a PEM X.509 certificate: {exc}") from None
    placeholder = etree.SubElement(root, f"{{{DS}}}Signature", nsmap={"ds": DS})
    placeholder.set("Id", "placeholder")
    signer = _signer(algorithm)
    signer.namespaces = {"ds": DS}
    try:
        signed = signer.sign(root, key=key, cert=[cert])
    except Exception as exc:  # signxml raises its own and cryptography's errors
        raise InvalidValue("key", f"cannot sign with this key and certificate: {exc}") from None
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))


def verify(data: bytes, cert_pem: bytes | None = None, algorithm: str = DEFAULT_ALGORITHM) -> bytes:
    """Check the enveloped signature (against ``cert_pem`` when given, else the certificate in
    the message, which proves integrity, not who signed); returns the signed XML. A missing or
    bad signature raises ``InvalidValue``."""
    from signxml import XMLVerifier  # type: ignore[attr-defined]
    from signxml.algorithms import (
        CanonicalizationMethod,
        DigestAlgorithm,
        SignatureMethod,
    )
    from signxml.verifier import SignatureConfiguration

    root = safe_root(data)
    method, digest = ALGORITHMS.get(algorithm, ALGORITHMS[DEFAULT_ALGORITHM])
    config = SignatureConfiguration(
        require_x509=True,
        signature_methods=frozenset({SignatureMethod(method)}),
        digest_algorithms=frozenset({DigestAlgorithm[digest.upper()]}),
        default_reference_c14n_method=CanonicalizationMethod(C14N_1_0),
    )
    try:
        result = XMLVerifier().verify(
            root, x509_cert=None if cert_pem is None else cert_pem.decode(), expect_config=config
        )
    except Exception as exc:  # signxml.InvalidSignature and friends
        raise InvalidValue("signature", f"does not verify: {exc}") from None
    if isinstance(result, list) or result.signed_xml is None:
        raise InvalidValue("signature", "expected one enveloped signature over the message")
    return bytes(etree.tostring(result.signed_xml))
