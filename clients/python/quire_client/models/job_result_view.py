from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.pdf_standard import PdfStandard
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.pdf_signature import PdfSignature





T = TypeVar("T", bound="JobResultView")



@_attrs_define
class JobResultView:
    """ 
        Attributes:
            bytes_ (int):
            file (str): URL of the produced file.
            pages (int):
            sha256 (str):
            pdf_standard (PdfStandard | Unset): The standards a PDF is exported to meet: one PDF/A level, PDF/UA-1 (`ua-1`),
                or both (`a-2a+ua-1`). typst checks the document as it writes it: a template that cannot meet it is refused at
                upload, and a job that cannot ends `dead` with `nonconforming`.
            signature (None | PdfSignature | Unset):
     """

    bytes_: int
    file: str
    pages: int
    sha256: str
    pdf_standard: PdfStandard | Unset = UNSET
    signature: None | PdfSignature | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.pdf_signature import PdfSignature # noqa: PLC0415
        bytes_ = self.bytes_

        file = self.file

        pages = self.pages

        sha256 = self.sha256

        pdf_standard: str | Unset = UNSET
        if not isinstance(self.pdf_standard, Unset):
            pdf_standard = self.pdf_standard.value


        signature: dict[str, Any] | None | Unset
        if isinstance(self.signature, Unset):
            signature = UNSET
        elif isinstance(self.signature, PdfSignature):
            signature = self.signature.to_dict()
        else:
            signature = self.signature


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "bytes": bytes_,
            "file": file,
            "pages": pages,
            "sha256": sha256,
        })
        if pdf_standard is not UNSET:
            field_dict["pdf_standard"] = pdf_standard
        if signature is not UNSET:
            field_dict["signature"] = signature

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.pdf_signature import PdfSignature # noqa: PLC0415
        d = dict(src_dict)
        bytes_ = d.pop("bytes")

        file = d.pop("file")

        pages = d.pop("pages")

        sha256 = d.pop("sha256")

        _pdf_standard = d.pop("pdf_standard", UNSET)
        pdf_standard: PdfStandard | Unset
        if isinstance(_pdf_standard,  Unset):
            pdf_standard = UNSET
        else:
            pdf_standard = PdfStandard(_pdf_standard)




        def _parse_signature(data: object) -> None | PdfSignature | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                signature_type_1 = PdfSignature.from_dict(data)



                return signature_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PdfSignature | Unset, data)

        signature = _parse_signature(d.pop("signature", UNSET))


        job_result_view = cls(
            bytes_=bytes_,
            file=file,
            pages=pages,
            sha256=sha256,
            pdf_standard=pdf_standard,
            signature=signature,
        )


        job_result_view.additional_properties = d
        return job_result_view

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
