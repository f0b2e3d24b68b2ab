//! UTC calendar arithmetic on unix milliseconds: budget windows and report dates.
//!
//! Budgets reset at UTC midnight and on the first of the month (UTC); the ledger stores unix
//! milliseconds. These helpers convert between the two without a clock read of their own.

use std::fmt;
use std::str::FromStr;

const MS_PER_DAY: i64 = 86_400_000;

/// A UTC calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 2025.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of month, 1..=31.
    pub day: u32,
}

/// A date that did not parse as `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date '{0}': expected YYYY-MM-DD")]
pub struct InvalidDate(pub String);

impl Date {
    /// Builds a date, checking that the day exists in that month.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// The UTC date that contains the instant `unix_ms`.
    pub fn from_unix_ms(unix_ms: i64) -> Date {
        civil_from_days(unix_ms.div_euclid(MS_PER_DAY))
    }

    /// Unix milliseconds of this date's UTC midnight.
    pub fn start_ms(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * MS_PER_DAY
    }

    /// The following date.
    pub fn next(self) -> Date {
        civil_from_days(days_from_civil(self.year, self.month, self.day) + 1)
    }

    /// The first day of this date's month.
    pub fn month_start(self) -> Date {
        Date { day: 1, ..self }
    }

    /// The first day of the following month.
    pub fn next_month_start(self) -> Date {
        if self.month == 12 {
            Date {
                year: self.year + 1,
                month: 1,
                day: 1,
            }
        } else {
            Date {
                year: self.year,
                month: self.month + 1,
                day: 1,
            }
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = InvalidDate;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidDate(s.to_string());
        let mut parts = s.trim().splitn(3, '-');
        let mut next = || parts.next().ok_or_else(bad);
        let (y, m, d) = (next()?, next()?, next()?);
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        let day = d.parse().map_err(|_| bad())?;
        Date::new(year, month, day).ok_or_else(bad)
    }
}

/// A date in a config file: the text `"YYYY-MM-DD"`, or a TOML date literal `YYYY-MM-DD`
/// (which the TOML parser hands over as a one-entry map holding the same text).
impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = Date;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a date, YYYY-MM-DD")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Date, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Date, A::Error> {
                let Some((_, text)) = map.next_entry::<serde::de::IgnoredAny, String>()? else {
                    return Err(serde::de::Error::custom("expected a date, YYYY-MM-DD"));
                };
                text.parse().map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_any(Text)
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian calendar).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    Date { year, month, day }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_instants() {
        assert_eq!(Date::from_unix_ms(0).to_string(), "1970-01-01");
        // 2024-02-29T23:59:59.999Z
        let leap = Date::from_unix_ms(1_709_251_199_999);
        assert_eq!(leap.to_string(), "2024-02-29");
        assert_eq!(leap.next().to_string(), "2024-03-01");
        assert_eq!(leap.start_ms(), 1_709_164_800_000);
        assert_eq!(Date::from_unix_ms(-1).to_string(), "1969-12-31");
        for days in -800_000..800_000i64 {
            if days % 997 != 0 {
                continue;
            }
            let d = civil_from_days(days);
            assert_eq!(days_from_civil(d.year, d.month, d.day), days);
        }
    }

    #[test]
    fn months_roll_and_parse() {
        let d: Date = "2025-12-17".parse().unwrap();
        assert_eq!(d.month_start().to_string(), "2025-12-01");
        assert_eq!(d.next_month_start().to_string(), "2026-01-01");
        assert!("2025-02-29".parse::<Date>().is_err());
        assert!("2025-1-01".parse::<Date>().is_err());
        assert!("yesterday".parse::<Date>().is_err());
    }
}
