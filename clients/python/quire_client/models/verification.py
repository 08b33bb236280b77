from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="Verification")



@_attrs_define
class Verification:
    """ What anyone holding a verification code may learn.

        Attributes:
            code (str):
            course_name (str):
            issued_on (str):
            recipient_name (str):
            status (str): `valid`, `expired`, `revoked`, or `pending` (not rendered yet).
            credential_url (None | str | Unset): Its Open Badges 3.0 credential (see `CertificateView`); null until issued.
            expires_on (None | str | Unset):
            issuer_name (None | str | Unset):
            linkedin_url (None | str | Unset): LinkedIn's "Add to profile" link (see `CertificateView`); null unless `valid`
                or
                `expired`.
            revocation_reason (None | str | Unset):
            revoked_at (None | str | Unset): RFC 3339.
            sha256 (None | str | Unset): sha256 of the issued PDF: a holder's copy is genuine if its checksum matches.
            signed_by (None | str | Unset): The subject of the certificate that signed the PDF (PAdES): a holder's copy
                carries
                that signature. Null when quire does not sign.
     """

    code: str
    course_name: str
    issued_on: str
    recipient_name: str
    status: str
    credential_url: None | str | Unset = UNSET
    expires_on: None | str | Unset = UNSET
    issuer_name: None | str | Unset = UNSET
    linkedin_url: None | str | Unset = UNSET
    revocation_reason: None | str | Unset = UNSET
    revoked_at: None | str | Unset = UNSET
    sha256: None | str | Unset = UNSET
    signed_by: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        code = self.code

        course_name = self.course_name

        issued_on = self.issued_on

        recipient_name = self.recipient_name

        status = self.status

        credential_url: None | str | Unset
        if isinstance(self.credential_url, Unset):
            credential_url = UNSET
        else:
            credential_url = self.credential_url

        expires_on: None | str | Unset
        if isinstance(self.expires_on, Unset):
            expires_on = UNSET
        else:
            expires_on = self.expires_on

        issuer_name: None | str | Unset
        if isinstance(self.issuer_name, Unset):
            issuer_name = UNSET
        else:
            issuer_name = self.issuer_name

        linkedin_url: None | str | Unset
        if isinstance(self.linkedin_url, Unset):
            linkedin_url = UNSET
        else:
            linkedin_url = self.linkedin_url

        revocation_reason: None | str | Unset
        if isinstance(self.revocation_reason, Unset):
            revocation_reason = UNSET
        else:
            revocation_reason = self.revocation_reason

        revoked_at: None | str | Unset
        if isinstance(self.revoked_at, Unset):
            revoked_at = UNSET
        else:
            revoked_at = self.revoked_at

        sha256: None | str | Unset
        if isinstance(self.sha256, Unset):
            sha256 = UNSET
        else:
            sha256 = self.sha256

        signed_by: None | str | Unset
        if isinstance(self.signed_by, Unset):
            signed_by = UNSET
        else:
            signed_by = self.signed_by


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "code": code,
            "course_name": course_name,
            "issued_on": issued_on,
            "recipient_name": recipient_name,
            "status": status,
        })
        if credential_url is not UNSET:
            field_dict["credential_url"] = credential_url
        if expires_on is not UNSET:
            field_dict["expires_on"] = expires_on
        if issuer_name is not UNSET:
            field_dict["issuer_name"] = issuer_name
        if linkedin_url is not UNSET:
            field_dict["linkedin_url"] = linkedin_url
        if revocation_reason is not UNSET:
            field_dict["revocation_reason"] = revocation_reason
        if revoked_at is not UNSET:
            field_dict["revoked_at"] = revoked_at
        if sha256 is not UNSET:
            field_dict["sha256"] = sha256
        if signed_by is not UNSET:
            field_dict["signed_by"] = signed_by

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        code = d.pop("code")

        course_name = d.pop("course_name")

        issued_on = d.pop("issued_on")

        recipient_name = d.pop("recipient_name")

        status = d.pop("status")

        def _parse_credential_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        credential_url = _parse_credential_url(d.pop("credential_url", UNSET))


        def _parse_expires_on(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        expires_on = _parse_expires_on(d.pop("expires_on", UNSET))


        def _parse_issuer_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        issuer_name = _parse_issuer_name(d.pop("issuer_name", UNSET))


        def _parse_linkedin_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        linkedin_url = _parse_linkedin_url(d.pop("linkedin_url", UNSET))


        def _parse_revocation_reason(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        revocation_reason = _parse_revocation_reason(d.pop("revocation_reason", UNSET))


        def _parse_revoked_at(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        revoked_at = _parse_revoked_at(d.pop("revoked_at", UNSET))


        def _parse_sha256(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        sha256 = _parse_sha256(d.pop("sha256", UNSET))


        def _parse_signed_by(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        signed_by = _parse_signed_by(d.pop("signed_by", UNSET))


        verification = cls(
            code=code,
            course_name=course_name,
            issued_on=issued_on,
            recipient_name=recipient_name,
            status=status,
            credential_url=credential_url,
            expires_on=expires_on,
            issuer_name=issuer_name,
            linkedin_url=linkedin_url,
            revocation_reason=revocation_reason,
            revoked_at=revoked_at,
            sha256=sha256,
            signed_by=signed_by,
        )


        verification.additional_properties = d
        return verification

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
