from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.pdf_standard import PdfStandard
from ..models.template_kind import TemplateKind
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.field_spec import FieldSpec
  from ..models.template_request_assets import TemplateRequestAssets





T = TypeVar("T", bound="TemplateRequest")



@_attrs_define
class TemplateRequest:
    """ A new template.

        Attributes:
            name (str): 1 to 64 of `a-z 0-9 - _`, starting with a letter or digit, and not a UUID; unique
                among live templates (else 409). Example: course-completion.
            source (str): The typst source (`main.typ`), at most 262144 characters, not blank. Job data is at
                `/data.json`, images at `/photo`, `/signature`, `/qr.svg` and `/fields/<name>`. One that
                does not compile with sample data is a 422 with typst's `diagnostics`.
            assets (TemplateRequestAssets | Unset): Other files by path (e.g. `/logo.svg`), base64; at most 20, 4 MiB in all
                (else 422).
            description (str | Unset): Any text (line breaks too), at most 1000 characters.
            fields (list[FieldSpec] | Unset): Declared input fields, validated on every submission; names are unique (else
                422).
            is_public (bool | Unset): Whether non-admin keys may see and use it.
            kind (None | TemplateKind | Unset):
            pdf_standard (None | PdfStandard | Unset):
     """

    name: str
    source: str
    assets: TemplateRequestAssets | Unset = UNSET
    description: str | Unset = UNSET
    fields: list[FieldSpec] | Unset = UNSET
    is_public: bool | Unset = UNSET
    kind: None | TemplateKind | Unset = UNSET
    pdf_standard: None | PdfStandard | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.field_spec import FieldSpec # noqa: PLC0415
        from ..models.template_request_assets import TemplateRequestAssets # noqa: PLC0415
        name = self.name

        source = self.source

        assets: dict[str, Any] | Unset = UNSET
        if not isinstance(self.assets, Unset):
            assets = self.assets.to_dict()

        description = self.description

        fields: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.fields, Unset):
            fields = []
            for fields_item_data in self.fields:
                fields_item = fields_item_data.to_dict()
                fields.append(fields_item)



        is_public = self.is_public

        kind: None | str | Unset
        if isinstance(self.kind, Unset):
            kind = UNSET
        elif isinstance(self.kind, TemplateKind):
            kind = self.kind.value
        else:
            kind = self.kind

        pdf_standard: None | str | Unset
        if isinstance(self.pdf_standard, Unset):
            pdf_standard = UNSET
        elif isinstance(self.pdf_standard, PdfStandard):
            pdf_standard = self.pdf_standard.value
        else:
            pdf_standard = self.pdf_standard


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "name": name,
            "source": source,
        })
        if assets is not UNSET:
            field_dict["assets"] = assets
        if description is not UNSET:
            field_dict["description"] = description
        if fields is not UNSET:
            field_dict["fields"] = fields
        if is_public is not UNSET:
            field_dict["is_public"] = is_public
        if kind is not UNSET:
            field_dict["kind"] = kind
        if pdf_standard is not UNSET:
            field_dict["pdf_standard"] = pdf_standard

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.field_spec import FieldSpec # noqa: PLC0415
        from ..models.template_request_assets import TemplateRequestAssets # noqa: PLC0415
        d = dict(src_dict)
        name = d.pop("name")

        source = d.pop("source")

        _assets = d.pop("assets", UNSET)
        assets: TemplateRequestAssets | Unset
        if isinstance(_assets,  Unset):
            assets = UNSET
        else:
            assets = TemplateRequestAssets.from_dict(_assets)




        description = d.pop("description", UNSET)

        _fields = d.pop("fields", UNSET)
        fields: list[FieldSpec] | Unset = UNSET
        if _fields is not UNSET:
            fields = []
            for fields_item_data in _fields:
                fields_item = FieldSpec.from_dict(fields_item_data)



                fields.append(fields_item)


        is_public = d.pop("is_public", UNSET)

        def _parse_kind(data: object) -> None | TemplateKind | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                kind_type_1 = TemplateKind(data)



                return kind_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TemplateKind | Unset, data)

        kind = _parse_kind(d.pop("kind", UNSET))


        def _parse_pdf_standard(data: object) -> None | PdfStandard | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                pdf_standard_type_0 = PdfStandard(data)



                return pdf_standard_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | PdfStandard | Unset, data)

        pdf_standard = _parse_pdf_standard(d.pop("pdf_standard", UNSET))


        template_request = cls(
            name=name,
            source=source,
            assets=assets,
            description=description,
            fields=fields,
            is_public=is_public,
            kind=kind,
            pdf_standard=pdf_standard,
        )

        return template_request

