//! Keyset paging, shared by every listing: the `limit` and `cursor` parameters and the one
//! extra row that says whether there is a next page. Each listing keeps its own cursor text
//! (what it sorts by), so a cursor from one listing is refused by another.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{Keyed, parse_query};
use crate::state::AppState;
use crate::views::bad_query;

/// Rows on a page when the request names no `limit`.
const DEFAULT_LIMIT: u32 = 50;
/// Most rows on one page.
const MAX_LIMIT: u32 = 200;

/// A listing's paging parameters, read from the same query string as its filters (listed
/// after them in a route's `params(...)`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page; any other text is a 400 `invalid_query`.
    pub cursor: Option<String>,
}

/// What a keyed listing starts from: the state and the caller (`401` first), then its
/// filters `Q` and its paging, both read from the one query string (`400 invalid_query`).
pub struct Listing<Q> {
    pub state: AppState,
    pub caller: Caller,
    pub filter: Q,
    pub page: PageQuery,
}

impl<Q: DeserializeOwned> FromRequestParts<AppState> for Listing<Q> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Keyed { state, caller } = Keyed::from_request_parts(parts, state).await?;
        let query = parts.uri.query().unwrap_or_default();
        Ok(Listing {
            state,
            caller,
            filter: parse_query(query)?,
            page: parse_query(query)?,
        })
    }
}

/// A checked page request: how many rows, after which one.
pub struct Page<C> {
    pub limit: u32,
    pub after: Option<C>,
}

impl PageQuery {
    /// The page size checked and the cursor read by `decode` (`None`: not one of this
    /// listing's cursors); either wrong is a 400 `invalid_query` naming the parameter.
    pub fn checked<C>(&self, decode: impl FnOnce(&str) -> Option<C>) -> Result<Page<C>, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(bad_query("limit", "`limit` must be 1 to 200"));
        }
        let after = match self.cursor.as_deref() {
            None => None,
            Some(text) => Some(
                decode(text)
                    .ok_or_else(|| bad_query("cursor", "`cursor` is not one this listing gave"))?,
            ),
        };
        Ok(Page { limit, after })
    }
}

impl<C> Page<C> {
    /// How many rows to fetch: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> u32 {
        self.limit + 1
    }

    /// Cuts the extra row off `rows` and gives the cursor of the next page (`None` on the
    /// last), made from the page's last row by `cursor_of`.
    pub fn next_cursor<R>(
        &self,
        rows: &mut Vec<R>,
        cursor_of: impl FnOnce(&R) -> String,
    ) -> Option<String> {
        if rows.len() <= self.limit as usize {
            return None;
        }
        rows.truncate(self.limit as usize);
        rows.last().map(cursor_of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<u32>, cursor: Option<&str>) -> PageQuery {
        PageQuery {
            limit,
            cursor: cursor.map(str::to_owned),
        }
    }

    #[test]
    fn limits_outside_one_to_two_hundred_are_refused() {
        let decode = |_: &str| Some(());
        assert_eq!(query(None, None).checked(decode).unwrap().limit, 50);
        assert_eq!(query(Some(200), None).checked(decode).unwrap().limit, 200);
        for bad in [0, 201] {
            let err = query(Some(bad), None).checked(decode).err().unwrap();
            assert!(format!("{err:?}").contains("limit"), "{err:?}");
        }
    }

    #[test]
    fn a_cursor_the_listing_cannot_read_is_refused() {
        let err = query(None, Some("x"))
            .checked(|_| None::<u8>)
            .err()
            .unwrap();
        assert!(format!("{err:?}").contains("cursor"), "{err:?}");
        let page = query(None, Some("7"))
            .checked(|t| t.parse::<u8>().ok())
            .unwrap();
        assert_eq!(page.after, Some(7));
    }

    #[test]
    fn the_extra_row_makes_the_next_cursor_and_is_cut() {
        let page = query(Some(2), None).checked(|_| Some(())).unwrap();
        let mut rows = vec![1, 2, 3];
        assert_eq!(
            page.next_cursor(&mut rows, |r| r.to_string()),
            Some("2".into())
        );
        assert_eq!(rows, [1, 2]);
        assert_eq!(page.next_cursor(&mut rows, |r| r.to_string()), None);
    }
}
