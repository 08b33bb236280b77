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
  from ..models.field_spec import FieldSpec
  from ..models.template_update_assets_type_0 import TemplateUpdateAssetsType0





T = TypeVar("T", bound="TemplateUpdate")



@_attrs_define
class TemplateUpdate:
    """ A change; absent members keep their current value.

        Attributes:
            assets (None | TemplateUpdateAssetsType0 | Unset): As on creation: at most 20, base64.
            description (None | str | Unset): Any text (line breaks too), at most 1000 characters.
            fields (list[FieldSpec] | None | Unset):
            is_public (bool | None | Unset):
            pdf_standard (None | PdfStandard | Unset):
            source (None | str | Unset): As on creation: at most 262144 characters, not blank, compiles.
     """

    assets: None | TemplateUpdateAssetsType0 | Unset = UNSET
    description: None | str | Unset = UNSET
    fields: list[FieldSpec] | None | Unset = UNSET
    is_public: bool | None | Unset = UNSET
    pdf_standard: None | PdfStandard | Unset = UNSET
    source: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.field_spec import FieldSpec # noqa: PLC0415
        from ..models.template_update_assets_type_0 import TemplateUpdateAssetsType0 # noqa: PLC0415
        assets: dict[str, Any] | None | Unset
        if isinstance(self.assets, Unset):
            assets = UNSET
        elif isinstance(self.assets, TemplateUpdateAssetsType0):
            assets = self.assets.to_dict()
        else:
            assets = self.assets

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        fields: list[dict[str, Any]] | None | Unset
        if isinstance(self.fields, Unset):
            fields = UNSET
        elif isinstance(self.fields, list):
            fields = []
            for fields_type_0_item_data in self.fields:
                fields_type_0_item = fields_type_0_item_data.to_dict()
                fields.append(fields_type_0_item)


        else:
            fields = self.fields

        is_public: bool | None | Unset
        if isinstance(self.is_public, Unset):
            is_public = UNSET
        else:
            is_public = self.is_public

        pdf_standard: None | str | Unset
        if isinstance(self.pdf_standard, Unset):
            pdf_standard = UNSET
        elif isinstance(self.pdf_standard, PdfStandard):
            pdf_standard = self.pdf_standard.value
        else:
            pdf_standard = self.pdf_standard

        source: None | str | Unset
        if isinstance(self.source, Unset):
            source = UNSET
        else:
            source = self.source


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if assets is not UNSET:
            field_dict["assets"] = assets
        if description is not UNSET:
            field_dict["description"] = description
        if fields is not UNSET:
            field_dict["fields"] = fields
        if is_public is not UNSET:
            field_dict["is_public"] = is_public
        if pdf_standard is not UNSET:
            field_dict["pdf_standard"] = pdf_standard
        if source is not UNSET:
            field_dict["source"] = source

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.field_spec import FieldSpec # noqa: PLC0415
        from ..models.template_update_assets_type_0 import TemplateUpdateAssetsType0 # noqa: PLC0415
        d = dict(src_dict)
        def _parse_assets(data: object) -> None | TemplateUpdateAssetsType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                assets_type_0 = TemplateUpdateAssetsType0.from_dict(data)



                return assets_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TemplateUpdateAssetsType0 | Unset, data)

        assets = _parse_assets(d.pop("assets", UNSET))


        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))


        def _parse_fields(data: object) -> list[FieldSpec] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                fields_type_0 = []
                _fields_type_0 = data
                for fields_type_0_item_data in (_fields_type_0):
                    fields_type_0_item = FieldSpec.from_dict(fields_type_0_item_data)



                    fields_type_0.append(fields_type_0_item)

                return fields_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[FieldSpec] | None | Unset, data)

        fields = _parse_fields(d.pop("fields", UNSET))


        def _parse_is_public(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        is_public = _parse_is_public(d.pop("is_public", UNSET))


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


        def _parse_source(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        source = _parse_source(d.pop("source", UNSET))


        template_update = cls(
            assets=assets,
            description=description,
            fields=fields,
            is_public=is_public,
            pdf_standard=pdf_standard,
            source=source,
        )

        return template_update

