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
  from ..models.batch_item import BatchItem





T = TypeVar("T", bound="StepBatch")



@_attrs_define
class StepBatch:
    """ A batch step: certificates from rows, as `POST /v1/certificates/batch` takes them.

        Attributes:
            csv (None | str | Unset): The rows as CSV text with a header row of field names; or `rows`.
            is_public (bool | Unset): List every certificate in the public registry.
            pdf_standard (None | PdfStandard | Unset):
            rows (list[BatchItem] | None | Unset): The rows as JSON; or `csv`.
            template (None | str | Unset): Template name or id; default `classic`.
     """

    csv: None | str | Unset = UNSET
    is_public: bool | Unset = UNSET
    pdf_standard: None | PdfStandard | Unset = UNSET
    rows: list[BatchItem] | None | Unset = UNSET
    template: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.batch_item import BatchItem # noqa: PLC0415
        csv: None | str | Unset
        if isinstance(self.csv, Unset):
            csv = UNSET
        else:
            csv = self.csv

        is_public = self.is_public

        pdf_standard: None | str | Unset
        if isinstance(self.pdf_standard, Unset):
            pdf_standard = UNSET
        elif isinstance(self.pdf_standard, PdfStandard):
            pdf_standard = self.pdf_standard.value
        else:
            pdf_standard = self.pdf_standard

        rows: list[dict[str, Any]] | None | Unset
        if isinstance(self.rows, Unset):
            rows = UNSET
        elif isinstance(self.rows, list):
            rows = []
            for rows_type_0_item_data in self.rows:
                rows_type_0_item = rows_type_0_item_data.to_dict()
                rows.append(rows_type_0_item)


        else:
            rows = self.rows

        template: None | str | Unset
        if isinstance(self.template, Unset):
            template = UNSET
        else:
            template = self.template


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if csv is not UNSET:
            field_dict["csv"] = csv
        if is_public is not UNSET:
            field_dict["is_public"] = is_public
        if pdf_standard is not UNSET:
            field_dict["pdf_standard"] = pdf_standard
        if rows is not UNSET:
            field_dict["rows"] = rows
        if template is not UNSET:
            field_dict["template"] = template

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_item import BatchItem # noqa: PLC0415
        d = dict(src_dict)
        def _parse_csv(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        csv = _parse_csv(d.pop("csv", UNSET))


        is_public = d.pop("is_public", UNSET)

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


        def _parse_rows(data: object) -> list[BatchItem] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                rows_type_0 = []
                _rows_type_0 = data
                for rows_type_0_item_data in (_rows_type_0):
                    rows_type_0_item = BatchItem.from_dict(rows_type_0_item_data)



                    rows_type_0.append(rows_type_0_item)

                return rows_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[BatchItem] | None | Unset, data)

        rows = _parse_rows(d.pop("rows", UNSET))


        def _parse_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template = _parse_template(d.pop("template", UNSET))


        step_batch = cls(
            csv=csv,
            is_public=is_public,
            pdf_standard=pdf_standard,
            rows=rows,
            template=template,
        )

        return step_batch

