from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.field_error import FieldError
  from ..models.template_diagnostic import TemplateDiagnostic





T = TypeVar("T", bound="ErrorDetail")



@_attrs_define
class ErrorDetail:
    """ 
        Attributes:
            code (str): Stable machine-readable code, e.g. `invalid_field`, `not_found`.
            message (str): Human-readable explanation.
            status (int): The HTTP status code, repeated for convenience.
            diagnostics (list[TemplateDiagnostic] | None | Unset): typst's errors, located, when a template does not
                compile.
            errors (list[FieldError] | None | Unset): Every problem, when there are several (batch rows, template fields).
            field (None | str | Unset): The input at fault (JSON path such as `photo` or `fields.grade`), when there is one.
     """

    code: str
    message: str
    status: int
    diagnostics: list[TemplateDiagnostic] | None | Unset = UNSET
    errors: list[FieldError] | None | Unset = UNSET
    field: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.field_error import FieldError # noqa: PLC0415
        from ..models.template_diagnostic import TemplateDiagnostic # noqa: PLC0415
        code = self.code

        message = self.message

        status = self.status

        diagnostics: list[dict[str, Any]] | None | Unset
        if isinstance(self.diagnostics, Unset):
            diagnostics = UNSET
        elif isinstance(self.diagnostics, list):
            diagnostics = []
            for diagnostics_type_0_item_data in self.diagnostics:
                diagnostics_type_0_item = diagnostics_type_0_item_data.to_dict()
                diagnostics.append(diagnostics_type_0_item)


        else:
            diagnostics = self.diagnostics

        errors: list[dict[str, Any]] | None | Unset
        if isinstance(self.errors, Unset):
            errors = UNSET
        elif isinstance(self.errors, list):
            errors = []
            for errors_type_0_item_data in self.errors:
                errors_type_0_item = errors_type_0_item_data.to_dict()
                errors.append(errors_type_0_item)


        else:
            errors = self.errors

        field: None | str | Unset
        if isinstance(self.field, Unset):
            field = UNSET
        else:
            field = self.field


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "code": code,
            "message": message,
            "status": status,
        })
        if diagnostics is not UNSET:
            field_dict["diagnostics"] = diagnostics
        if errors is not UNSET:
            field_dict["errors"] = errors
        if field is not UNSET:
            field_dict["field"] = field

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.field_error import FieldError # noqa: PLC0415
        from ..models.template_diagnostic import TemplateDiagnostic # noqa: PLC0415
        d = dict(src_dict)
        code = d.pop("code")

        message = d.pop("message")

        status = d.pop("status")

        def _parse_diagnostics(data: object) -> list[TemplateDiagnostic] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                diagnostics_type_0 = []
                _diagnostics_type_0 = data
                for diagnostics_type_0_item_data in (_diagnostics_type_0):
                    diagnostics_type_0_item = TemplateDiagnostic.from_dict(diagnostics_type_0_item_data)



                    diagnostics_type_0.append(diagnostics_type_0_item)

                return diagnostics_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[TemplateDiagnostic] | None | Unset, data)

        diagnostics = _parse_diagnostics(d.pop("diagnostics", UNSET))


        def _parse_errors(data: object) -> list[FieldError] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                errors_type_0 = []
                _errors_type_0 = data
                for errors_type_0_item_data in (_errors_type_0):
                    errors_type_0_item = FieldError.from_dict(errors_type_0_item_data)



                    errors_type_0.append(errors_type_0_item)

                return errors_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[FieldError] | None | Unset, data)

        errors = _parse_errors(d.pop("errors", UNSET))


        def _parse_field(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        field = _parse_field(d.pop("field", UNSET))


        error_detail = cls(
            code=code,
            message=message,
            status=status,
            diagnostics=diagnostics,
            errors=errors,
            field=field,
        )


        error_detail.additional_properties = d
        return error_detail

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
