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
  from ..models.field_view import FieldView
  from ..models.template_view_assets_type_0 import TemplateViewAssetsType0





T = TypeVar("T", bound="TemplateView")



@_attrs_define
class TemplateView:
    """ A template as clients see it.

        Attributes:
            builtin (bool): Shipped with quire and seeded on start.
            created_at (str):
            description (str):
            fields (list[FieldView]):
            id (str):
            is_public (bool):
            kind (TemplateKind): What a template produces.
            name (str):
            updated_at (str):
            version (int): The current version; each change adds one.
            assets (None | TemplateViewAssetsType0 | Unset): Asset paths and sizes in bytes (in single-template reads only).
            pdf_standard (None | PdfStandard | Unset):
            source (None | str | Unset): `main.typ` (in single-template reads only).
     """

    builtin: bool
    created_at: str
    description: str
    fields: list[FieldView]
    id: str
    is_public: bool
    kind: TemplateKind
    name: str
    updated_at: str
    version: int
    assets: None | TemplateViewAssetsType0 | Unset = UNSET
    pdf_standard: None | PdfStandard | Unset = UNSET
    source: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.field_view import FieldView # noqa: PLC0415
        from ..models.template_view_assets_type_0 import TemplateViewAssetsType0 # noqa: PLC0415
        builtin = self.builtin

        created_at = self.created_at

        description = self.description

        fields = []
        for fields_item_data in self.fields:
            fields_item = fields_item_data.to_dict()
            fields.append(fields_item)



        id = self.id

        is_public = self.is_public

        kind = self.kind.value

        name = self.name

        updated_at = self.updated_at

        version = self.version

        assets: dict[str, Any] | None | Unset
        if isinstance(self.assets, Unset):
            assets = UNSET
        elif isinstance(self.assets, TemplateViewAssetsType0):
            assets = self.assets.to_dict()
        else:
            assets = self.assets

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
        field_dict.update(self.additional_properties)
        field_dict.update({
            "builtin": builtin,
            "created_at": created_at,
            "description": description,
            "fields": fields,
            "id": id,
            "is_public": is_public,
            "kind": kind,
            "name": name,
            "updated_at": updated_at,
            "version": version,
        })
        if assets is not UNSET:
            field_dict["assets"] = assets
        if pdf_standard is not UNSET:
            field_dict["pdf_standard"] = pdf_standard
        if source is not UNSET:
            field_dict["source"] = source

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.field_view import FieldView # noqa: PLC0415
        from ..models.template_view_assets_type_0 import TemplateViewAssetsType0 # noqa: PLC0415
        d = dict(src_dict)
        builtin = d.pop("builtin")

        created_at = d.pop("created_at")

        description = d.pop("description")

        fields = []
        _fields = d.pop("fields")
        for fields_item_data in (_fields):
            fields_item = FieldView.from_dict(fields_item_data)



            fields.append(fields_item)


        id = d.pop("id")

        is_public = d.pop("is_public")

        kind = TemplateKind(d.pop("kind"))




        name = d.pop("name")

        updated_at = d.pop("updated_at")

        version = d.pop("version")

        def _parse_assets(data: object) -> None | TemplateViewAssetsType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                assets_type_0 = TemplateViewAssetsType0.from_dict(data)



                return assets_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TemplateViewAssetsType0 | Unset, data)

        assets = _parse_assets(d.pop("assets", UNSET))


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


        template_view = cls(
            builtin=builtin,
            created_at=created_at,
            description=description,
            fields=fields,
            id=id,
            is_public=is_public,
            kind=kind,
            name=name,
            updated_at=updated_at,
            version=version,
            assets=assets,
            pdf_standard=pdf_standard,
            source=source,
        )


        template_view.additional_properties = d
        return template_view

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
