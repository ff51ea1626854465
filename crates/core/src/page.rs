//! Pagination: a validated page request and the page that answers it.

use serde::Serialize;

use crate::ValidationErrors;

/// A validated page request: `page` is 1-based, `page_size` is within 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    page_size: u32,
}

impl PageRequest {
    /// Page size when the client names none.
    pub const DEFAULT_PAGE_SIZE: u32 = 20;
    /// Largest page size a client may ask for.
    pub const MAX_PAGE_SIZE: u32 = 100;

    /// Checks both numbers; out-of-range values are errors, never clamped.
    pub fn new(page: i64, page_size: i64) -> Result<PageRequest, ValidationErrors> {
        Self::from_query(Some(page), Some(page_size))
    }

    /// Builds a request from optional query parameters, applying the defaults (page 1, 20 a
    /// page). Every out-of-range value is named in the error.
    pub fn from_query(
        page: Option<i64>,
        page_size: Option<i64>,
    ) -> Result<PageRequest, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let page = errors.check(
            "page",
            match page.unwrap_or(1) {
                p if p < 1 => Err("must be at least 1"),
                p if p > i64::from(i32::MAX) => Err("must be at most 2147483647"),
                p => u32::try_from(p).map_err(|_| "is too large"),
            },
        );
        let page_size = errors.check(
            "page_size",
            match page_size.unwrap_or(i64::from(Self::DEFAULT_PAGE_SIZE)) {
                s if (1..=i64::from(Self::MAX_PAGE_SIZE)).contains(&s) => Ok(s as u32),
                _ => Err("must be between 1 and 100"),
            },
        );
        errors.finish(
            page.zip(page_size)
                .map(|(page, page_size)| PageRequest { page, page_size }),
        )
    }

    /// The 1-based page number.
    pub fn page(self) -> u32 {
        self.page
    }

    /// Rows per page.
    pub fn page_size(self) -> u32 {
        self.page_size
    }

    /// Rows to skip (`LIMIT page_size OFFSET offset`).
    pub fn offset(self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.page_size)
    }

    /// Rows to take.
    pub fn limit(self) -> i64 {
        i64::from(self.page_size)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            page: 1,
            page_size: Self::DEFAULT_PAGE_SIZE,
        }
    }
}

/// One page of a list: `{"items", "page", "page_size", "total", "total_pages"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The rows of this page, in the list's total order.
    pub items: Vec<T>,
    /// The 1-based page number that was asked for.
    pub page: u32,
    /// The page size that was asked for.
    pub page_size: u32,
    /// Rows in the whole list.
    pub total: i64,
    /// Pages in the whole list (0 for an empty list).
    pub total_pages: i64,
}

impl<T> Page<T> {
    /// Wraps the rows of `request`'s page of a list of `total` rows.
    pub fn new(items: Vec<T>, request: PageRequest, total: i64) -> Page<T> {
        let size = i64::from(request.page_size);
        Page {
            items,
            page: request.page,
            page_size: request.page_size,
            total,
            total_pages: (total + size - 1) / size,
        }
    }

    /// The same page with every item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            page_size: self.page_size,
            total: self.total,
            total_pages: self.total_pages,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_offsets() {
        let request = PageRequest::from_query(None, None).unwrap();
        assert_eq!((request.page(), request.page_size()), (1, 20));
        let request = PageRequest::new(3, 25).unwrap();
        assert_eq!((request.offset(), request.limit()), (50, 25));
    }

    #[test]
    fn out_of_range_is_an_error_naming_each_field() {
        let errors = PageRequest::new(0, 101).unwrap_err();
        let fields: Vec<_> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["page", "page_size"]);
        assert!(PageRequest::new(1, 0).is_err());
        assert!(PageRequest::new(-5, 10).is_err());
        assert!(PageRequest::new(1, 100).is_ok());
    }

    #[test]
    fn total_pages_rounds_up() {
        let request = PageRequest::new(1, 20).unwrap();
        assert_eq!(Page::new(Vec::<u8>::new(), request, 0).total_pages, 0);
        assert_eq!(Page::new(Vec::<u8>::new(), request, 20).total_pages, 1);
        assert_eq!(Page::new(Vec::<u8>::new(), request, 137).total_pages, 7);
    }
}
