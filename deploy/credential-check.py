#!/usr/bin/env python3
"""Checks an Open Badges 3.0 credential served by quire as a third party would, with
implementations other than quire's: jwcrypto for the JOSE signature, jsonschema for the shape.

    credential-check.py CREDENTIAL_URL

Fetches the VC-JWT, resolves its `kid` (a `did:web` DID URL) to the DID document over HTTP(S)
(the scheme of CREDENTIAL_URL, so a test server on http works), verifies the EdDSA signature
with the key the document lists for assertions, validates the payload against
deploy/openbadges-credential.schema.json, checks that a credential with one byte of its payload
changed is rejected, then fetches the status list the credential names, verifies it the same
way and reads the credential's bit. Prints one JSON object:

    {"issuer": "did:web:...", "signature": "valid", "schema": "valid",
     "tampered": "rejected", "status_list": "valid", "revoked": false, "credential": {...}}

Exits non-zero, saying why, when any check fails.
"""

import base64
import gzip
import json
import pathlib
import sys
import urllib.parse
import urllib.request

import jsonschema
from jwcrypto import jwk, jws

SCHEMA = pathlib.Path(__file__).with_name("openbadges-credential.schema.json")


def fail(message):
    print(f"credential-check: {message}", file=sys.stderr)
    sys.exit(1)


def fetch(url, accept):
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers.get("Content-Type", ""), response.read().decode()


def did_document_url(did, scheme):
    """did:web resolution (W3C did:web method): host (percent-decoded), then path segments."""
    if not did.startswith("did:web:"):
        fail(f"not a did:web identifier: {did}")
    parts = did[len("did:web:"):].split(":")
    host = urllib.parse.unquote(parts[0])
    if len(parts) > 1:
        return f"{scheme}://{host}/{'/'.join(parts[1:])}/did.json"
    return f"{scheme}://{host}/.well-known/did.json"


def b64url_json(segment):
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def verify(token, scheme, documents):
    """The JWS's payload, after checking its signature with the key its `kid` names."""
    header = b64url_json(token.split(".")[0])
    kid = header.get("kid", "")
    did = kid.split("#")[0]
    if did not in documents:
        url = did_document_url(did, scheme)
        _, text = fetch(url, "application/did+json")
        documents[did] = json.loads(text)
    document = documents[did]
    if document.get("id") != did:
        fail(f"the DID document of {did} names {document.get('id')}")
    if kid not in document.get("assertionMethod", []):
        fail(f"{kid} is not an assertion method of {did}")
    method = next((m for m in document.get("verificationMethod", []) if m.get("id") == kid), None)
    if method is None:
        fail(f"{kid} is not in the DID document")
    key = jwk.JWK(**method["publicKeyJwk"])
    signed = jws.JWS()
    signed.deserialize(token)
    try:
        signed.verify(key, alg=header.get("alg"))
    except jws.InvalidJWSSignature as e:
        raise SignatureError(str(e)) from e
    return did, json.loads(signed.payload)


class SignatureError(Exception):
    pass


def main():
    if len(sys.argv) != 2:
        fail("usage: credential-check.py CREDENTIAL_URL")
    url = sys.argv[1]
    scheme = urllib.parse.urlsplit(url).scheme
    documents = {}

    content_type, token = fetch(url, "application/vc+jwt")
    if not content_type.startswith("application/vc+jwt"):
        fail(f"{url} answered {content_type}, not application/vc+jwt")
    header = b64url_json(token.split(".")[0])
    if header.get("alg") != "EdDSA" or header.get("typ") != "vc+jwt":
        fail(f"unexpected JOSE header {header}")
    try:
        did, credential = verify(token, scheme, documents)
    except SignatureError as e:
        fail(f"the credential's signature does not verify: {e}")

    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if issuer_id != did:
        fail(f"the credential's issuer {issuer_id} did not sign it ({did} did)")
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(
        jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        ).iter_errors(credential),
        key=str,
    )
    if errors:
        fail("the credential is not an Open Badges 3.0 credential: "
             + "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors))

    # One byte of the payload changed: the signature must no longer hold.
    head, payload, signature = token.split(".")
    middle = len(payload) // 2
    flipped = "A" if payload[middle] != "A" else "B"
    tampered = ".".join([head, payload[:middle] + flipped + payload[middle + 1:], signature])
    try:
        verify(tampered, scheme, documents)
        fail("a credential with a changed payload still verifies")
    except (SignatureError, ValueError, json.JSONDecodeError):
        pass

    status = credential["credentialStatus"]
    if status.get("type") != "BitstringStatusListEntry" or status.get("statusPurpose") != "revocation":
        fail(f"unexpected credentialStatus {status}")
    _, list_token = fetch(status["statusListCredential"], "application/vc+jwt")
    try:
        list_did, status_list = verify(list_token, scheme, documents)
    except SignatureError as e:
        fail(f"the status list's signature does not verify: {e}")
    if list_did != did or status_list.get("issuer") != did:
        fail(f"the status list is issued by {status_list.get('issuer')}, not {did}")
    if "BitstringStatusListCredential" not in status_list.get("type", []):
        fail(f"not a status list credential: {status_list.get('type')}")
    subject = status_list["credentialSubject"]
    if subject.get("statusPurpose") != "revocation":
        fail(f"the status list's purpose is {subject.get('statusPurpose')}")
    encoded = subject["encodedList"]
    if not encoded.startswith("u"):
        fail("encodedList is not multibase base64url (prefix u)")
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    if len(bits) * 8 < 131072:
        fail(f"the status list has {len(bits) * 8} bits, fewer than the 131,072 required")
    index = int(status["statusListIndex"])
    revoked = bool(bits[index // 8] & (0x80 >> (index % 8)))

    print(json.dumps({
        "issuer": did,
        "signature": "valid",
        "schema": "valid",
        "tampered": "rejected",
        "status_list": "valid",
        "revoked": revoked,
        "revoked_in_list": sum(bin(b).count("1") for b in bits),
        "credential": credential,
    }))


if __name__ == "__main__":
    main()
