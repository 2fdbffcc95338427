//! Regions as administrative division codes (GB/T 2260), so 上海, 上海市, Shanghai and 310000
//! are one region and a district is inside its city, a city inside its province. Names stay for
//! display; comparisons use codes only. The table is [`entities::regions`].

pub use entities::regions::{DIVISIONS, Division, by_code, names};
use entities::regions::{city_of, is_city, is_province, province, province_of, within_province};

/// A six-digit division code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegionCode(pub u32);

impl RegionCode {
    pub fn parse_stored(text: &str) -> Option<Self> {
        text.trim()
            .parse::<u32>()
            .ok()
            .filter(|c| (110_000..=829_999).contains(c))
            .map(Self)
    }

    /// Whether `other` lies inside this region (a region contains itself).
    pub fn contains(self, other: Self) -> bool {
        if is_province(self.0) {
            province_of(other.0) == self.0
        } else if is_city(self.0) {
            !is_province(other.0) && city_of(other.0) == self.0
        } else {
            self == other
        }
    }

    /// The SQL LIKE pattern of the codes inside this region.
    pub fn like_pattern(self) -> String {
        let s = self.to_string();
        if is_province(self.0) {
            format!("{}%", &s[..2])
        } else if is_city(self.0) {
            format!("{}%", &s[..4])
        } else {
            s
        }
    }

    pub fn province(self) -> Self {
        Self(province_of(self.0))
    }

    /// The display names (province, city).
    pub fn names(self) -> (Option<&'static str>, Option<&'static str>) {
        names(self.0)
    }
}

impl std::fmt::Display for RegionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// A place as a member or client states it, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub code: RegionCode,
    /// The province's display name.
    pub province: String,
    /// The city's display name (as typed when the table does not list it).
    pub city: Option<String>,
}

/// Resolves a (province, city) pair typed in any common spelling or as codes. An unknown
/// province is refused; a city the table does not list keeps the province's code and the
/// typed name (the table lists every city of some provinces only).
pub fn place(province_text: &str, city_text: Option<&str>) -> Result<Place, String> {
    let p = province(province_text)
        .or_else(|| {
            // A city or district code given as the province.
            RegionCode::parse_stored(province_text)
                .and_then(|c| by_code(province_of(c.0)))
                .filter(|_| province_text.trim().len() == 6)
        })
        .ok_or_else(|| format!("unknown province: {}", province_text.trim()))?;
    let from_province_field = RegionCode::parse_stored(province_text)
        .filter(|c| !is_province(c.0) && within_province(p.code, &c.to_string()).is_some());
    let city_code = match city_text.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => within_province(p.code, c).map(RegionCode),
        None => None,
    }
    .or(from_province_field);
    let code = city_code.unwrap_or(RegionCode(p.code));
    let city = match city_code {
        Some(c) => names(c.0).1.map(str::to_owned),
        None => city_text
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
    };
    Ok(Place {
        code,
        province: p.name.to_owned(),
        city,
    })
}

/// One entry of a territory: a province (any spelling or code), or a listed city or district
/// code.
pub fn territory_entry(text: &str) -> Result<RegionCode, String> {
    let t = text.trim();
    if let Some(p) = province(t) {
        return Ok(RegionCode(p.code));
    }
    if let Some(c) = RegionCode::parse_stored(t).filter(|_| t.len() == 6)
        && within_province(province_of(c.0), t).is_some()
    {
        return Ok(c);
    }
    let mut cities = DIVISIONS
        .iter()
        .filter(|d| !is_province(d.code) && (d.name == t || d.short == t));
    match (cities.next(), cities.next()) {
        (Some(d), None) => Ok(RegionCode(d.code)),
        _ => Err(format!("unknown region: {t}")),
    }
}

/// Stored code lists (one per line); unreadable entries are skipped.
pub fn stored_codes(text: &str) -> Vec<RegionCode> {
    text.lines().filter_map(RegionCode::parse_stored).collect()
}

/// Codes of a stored list of names (rows written before codes): unknown names are skipped.
pub fn codes_of_names(names: &[String]) -> Vec<RegionCode> {
    let mut out: Vec<RegionCode> = names
        .iter()
        .filter_map(|n| territory_entry(n).ok())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether a scan at `at` lies outside `territory`. An empty territory is anywhere; a region
/// stated only at a coarser level than the territory (a province for a city territory) is not
/// held against the scan.
pub fn outside(territory: &[RegionCode], at: RegionCode) -> bool {
    !territory.is_empty() && !territory.iter().any(|t| t.contains(at) || at.contains(*t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_and_levels() {
        let sh = place("上海", None).unwrap();
        assert_eq!(sh.code, RegionCode(310_000));
        assert_eq!(sh.province, "上海市");
        assert_eq!(
            place("shanghai", Some("上海市")).unwrap().code,
            RegionCode(310_100)
        );
        assert_eq!(
            place("310000", Some("310101")).unwrap().code,
            RegionCode(310_101)
        );
        assert_eq!(place("310101", None).unwrap().code, RegionCode(310_101));
        assert!(place("火星", None).is_err());
        let unlisted = place("四川省", Some("绵阳市")).unwrap();
        assert_eq!(unlisted.code, RegionCode(510_000));
        assert_eq!(unlisted.city.as_deref(), Some("绵阳市"));
        let shanghai = RegionCode(310_000);
        assert!(shanghai.contains(RegionCode(310_100)));
        assert!(shanghai.contains(RegionCode(310_101)));
        assert!(RegionCode(310_100).contains(RegionCode(310_101)));
        assert!(!RegionCode(310_101).contains(RegionCode(310_100)));
        assert!(!shanghai.contains(RegionCode(110_000)));
        assert!(!outside(&[shanghai], RegionCode(310_101)));
        assert!(outside(&[shanghai], RegionCode(110_100)));
        assert!(!outside(&[RegionCode(440_300)], RegionCode(440_000)));
        assert!(!outside(&[], RegionCode(110_000)));
        assert_eq!(territory_entry("深圳").unwrap(), RegionCode(440_300));
        assert_eq!(shanghai.like_pattern(), "31%");
        assert_eq!(RegionCode(310_100).like_pattern(), "3101%");
    }
}
