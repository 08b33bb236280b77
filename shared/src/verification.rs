//! Verification of issued documents: the code printed on a certificate, the public URL that
//! checks it, and that URL as a QR code for the template.

use qrcode::EcLevel;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::render::{Renderer, svg};
use rand::Rng;

/// 12 characters from an alphabet without look-alikes: ~60 bits, unguessable.
pub fn verification_code() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    let chars: String = (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// The public URL that verifies a document: `{base}/v1/verify/{code}`.
pub use crate::urls::verify as verify_url;

use crate::domain::CalendarDate;

/// What LinkedIn's "Add to profile" form is filled in with for a certificate.
pub struct LinkedInCertification<'a> {
    /// The certification's name: the course.
    pub name: &'a str,
    /// The issuing organisation, when the certificate names one.
    pub organization: Option<&'a str>,
    pub issued_on: CalendarDate,
    pub expires_on: Option<CalendarDate>,
    /// The credential id: the verification code.
    pub code: &'a str,
    /// The credential URL: the verification page.
    pub verify_url: &'a str,
}

/// LinkedIn's add-to-profile link for a certificate: the holder's profile form opens
/// filled in (LinkedIn's documented parameters); nothing reaches LinkedIn until they save.
pub fn linkedin_add_url(c: &LinkedInCertification<'_>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("startTask", "CERTIFICATION_NAME");
    query.append_pair("name", c.name);
    if let Some(organization) = c.organization {
        query.append_pair("organizationName", organization);
    }
    let month = |d: CalendarDate| {
        let d = d.date();
        (d.year().to_string(), u8::from(d.month()).to_string())
    };
    let (year, month_of_year) = month(c.issued_on);
    query.append_pair("issueYear", &year);
    query.append_pair("issueMonth", &month_of_year);
    if let Some(expires) = c.expires_on {
        let (year, month_of_year) = month(expires);
        query.append_pair("expirationYear", &year);
        query.append_pair("expirationMonth", &month_of_year);
    }
    query.append_pair("certUrl", c.verify_url);
    query.append_pair("certId", c.code);
    format!("https://www.linkedin.com/profile/add?{}", query.finish())
}

/// `url` as a QR code in SVG, drawn locally: medium error correction (survives ~15% damage),
/// the standard 4-module quiet zone, black on white.
///
/// One SVG unit is one module (`viewBox="0 0 n n"`, `shape-rendering="crispEdges"`), so the
/// template chooses the printed size (`image("/qr.svg", width: 2.5cm)`) and the modules stay
/// sharp vector squares at any size.
///
/// One mask, always: `QrCode::new` tries all eight and scores each (the standard's penalty
/// rules), which cost more than half a certificate's render. Readers accept any mask (its
/// number is in the code's format bits); the checkerboard breaks up runs of one colour, which is
/// what the scoring looks for. Well under 0.1 ms for a URL.
pub fn qr_svg(url: &str) -> String {
    // Medium error correction holds 2,331 bytes at the largest version; a URL longer than that
    // is a bug in the caller, not an input.
    const FITS: &str = "a URL of at most 2331 bytes fits a QR code";
    let bits = qrcode::bits::encode_auto(url.as_bytes(), EcLevel::M).expect(FITS);
    let version = bits.version();
    let (data, ec) =
        qrcode::ec::construct_codewords(&bits.into_bytes(), version, EcLevel::M).expect(FITS);
    let mut canvas = Canvas::new(version, EcLevel::M);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec);
    canvas.apply_mask(MaskPattern::Checkerboard);
    let modules = canvas.into_colors();
    Renderer::<svg::Color<'_>>::new(&modules, version.width() as usize, 4)
        .module_dimensions(1, 1)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linkedin_link_carries_every_field_encoded() {
        let date = |s: &str| s.parse::<CalendarDate>().unwrap();
        let url = linkedin_add_url(&LinkedInCertification {
            name: "Rust & Safety: 101",
            organization: Some("Ünïversity of Q"),
            issued_on: date("2026-03-09"),
            expires_on: Some(date("2028-11-30")),
            code: "ABCD-EFGH-JKLM",
            verify_url: "https://q.example/v1/verify/ABCD-EFGH-JKLM",
        });
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.host_str(), Some("www.linkedin.com"));
        assert_eq!(parsed.path(), "/profile/add");
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        let expected = [
            ("startTask", "CERTIFICATION_NAME"),
            ("name", "Rust & Safety: 101"),
            ("organizationName", "Ünïversity of Q"),
            ("issueYear", "2026"),
            ("issueMonth", "3"),
            ("expirationYear", "2028"),
            ("expirationMonth", "11"),
            ("certUrl", "https://q.example/v1/verify/ABCD-EFGH-JKLM"),
            ("certId", "ABCD-EFGH-JKLM"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(pairs, expected);

        let bare = linkedin_add_url(&LinkedInCertification {
            name: "N",
            organization: None,
            issued_on: date("2026-12-01"),
            expires_on: None,
            code: "C",
            verify_url: "https://q.example/v1/verify/C",
        });
        assert!(
            !bare.contains("organizationName") && !bare.contains("expiration"),
            "{bare}"
        );
    }

    #[test]
    fn verification_codes_are_distinct_and_readable() {
        let a = verification_code();
        assert_eq!(a.len(), 14);
        assert_ne!(a, verification_code());
        assert!(!a.contains('O') && !a.contains('0') && !a.contains('I') && !a.contains('1'));
    }

    #[test]
    fn verify_url_joins_base_and_code() {
        let want = "https://example.test/v1/verify/ABCD-EFGH-JKMN";
        assert_eq!(verify_url("https://example.test", "ABCD-EFGH-JKMN"), want);
        assert_eq!(verify_url("https://example.test/", "ABCD-EFGH-JKMN"), want);
        assert_eq!(
            verify_url("https://example.test/quire/", "X"),
            "https://example.test/quire/v1/verify/X"
        );
    }

    /// The `viewBox` side of an SVG, in units.
    fn view_box_side(svg: &str) -> u32 {
        let start = svg.find("viewBox=\"").expect("a viewBox") + "viewBox=\"".len();
        let value = &svg[start..start + svg[start..].find('"').unwrap()];
        let parts: Vec<u32> = value.split(' ').map(|p| p.parse().unwrap()).collect();
        assert_eq!(parts[..2], [0, 0], "{value}");
        assert_eq!(parts[2], parts[3], "square: {value}");
        parts[2]
    }

    #[test]
    fn qr_svg_is_one_unit_per_module_with_a_quiet_zone() {
        let url = verify_url("https://example.test", "ABCD-EFGH-JKMN");
        assert_eq!(url.len(), 45);
        let svg = qr_svg(&url);
        assert!(svg.starts_with("<?xml"), "{svg}");
        assert!(
            svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"), "{svg}");
        assert!(svg.contains("shape-rendering=\"crispEdges\""), "{svg}");
        // 45 bytes at level M: the URL's lowercase part in byte mode and the code in
        // alphanumeric mode fit version 3, 4 * 3 + 17 = 29 modules, plus a 4-module quiet zone
        // on each side.
        assert_eq!(view_box_side(&svg), 29 + 8);
        // Longer URLs get larger codes; the unit stays one module.
        let long = verify_url(
            &format!("https://{}.test", "a".repeat(100)),
            "ABCD-EFGH-JKMN",
        );
        let width = qrcode::QrCode::with_error_correction_level(long.as_bytes(), EcLevel::M)
            .unwrap()
            .width() as u32;
        assert!(width > 29);
        assert_eq!(view_box_side(&qr_svg(&long)), width + 8);
    }

    #[test]
    fn qr_svg_draws_a_code_that_reads_back_as_the_url() {
        // The path is one `Mx y h1v1...` square per dark module, offset by the quiet zone:
        // read it back into a grid, rasterise it (4 px a module, quiet zone included) and
        // decode it as a phone would.
        for url in [
            "https://example.test/v1/verify/ABCD-EFGH-JKMN",
            &verify_url(
                "https://certificates.example.org/some/long/prefix",
                "ZZZZ-2222-WXYZ",
            ),
        ] {
            let svg = qr_svg(url);
            let side = view_box_side(&svg) as usize;
            let path = svg.split("d=\"").nth(1).expect("a path of dark modules");
            let path = &path[..path.find('"').unwrap()];
            let mut dark = vec![false; side * side];
            for square in path.split('M').skip(1) {
                let (x, rest) = square.split_once(' ').unwrap();
                let y: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
                assert!(
                    (4..side - 4).contains(&x) && (4..side - 4).contains(&y),
                    "{x} {y}"
                );
                dark[y * side + x] = true;
            }
            const PX: usize = 4;
            let mut image =
                rqrr::PreparedImage::prepare_from_greyscale(side * PX, side * PX, |x, y| {
                    if dark[(y / PX) * side + x / PX] {
                        0
                    } else {
                        255
                    }
                });
            let grids = image.detect_grids();
            assert_eq!(grids.len(), 1, "one code in {url}'s image");
            let (_, content) = grids[0].decode().expect("the code decodes");
            assert_eq!(content, url);
        }
    }
}
