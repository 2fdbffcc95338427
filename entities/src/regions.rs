//! Administrative divisions (GB/T 2260 codes): every province-level division and the
//! prefecture-level cities of the provinces the brand's stores and distributors are in (and
//! every provincial capital). Reference data, compiled in: the migration that fills the region
//! code columns and the domain both read it. Codes are six digits: `PPCCDD`, a province ends in
//! `0000`, a city in `00`. Municipalities list their one city-level entry (`310100`).

/// One division: code, full Chinese name, short name, and pinyin/English name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Division {
    pub code: u32,
    pub name: &'static str,
    pub short: &'static str,
    pub english: &'static str,
}

const fn d(code: u32, name: &'static str, short: &'static str, english: &'static str) -> Division {
    Division {
        code,
        name,
        short,
        english,
    }
}

pub static DIVISIONS: &[Division] = &[
    // Provinces, autonomous regions, municipalities, SARs (34).
    d(110000, "北京市", "北京", "Beijing"),
    d(120000, "天津市", "天津", "Tianjin"),
    d(130000, "河北省", "河北", "Hebei"),
    d(140000, "山西省", "山西", "Shanxi"),
    d(150000, "内蒙古自治区", "内蒙古", "Inner Mongolia"),
    d(210000, "辽宁省", "辽宁", "Liaoning"),
    d(220000, "吉林省", "吉林", "Jilin"),
    d(230000, "黑龙江省", "黑龙江", "Heilongjiang"),
    d(310000, "上海市", "上海", "Shanghai"),
    d(320000, "江苏省", "江苏", "Jiangsu"),
    d(330000, "浙江省", "浙江", "Zhejiang"),
    d(340000, "安徽省", "安徽", "Anhui"),
    d(350000, "福建省", "福建", "Fujian"),
    d(360000, "江西省", "江西", "Jiangxi"),
    d(370000, "山东省", "山东", "Shandong"),
    d(410000, "河南省", "河南", "Henan"),
    d(420000, "湖北省", "湖北", "Hubei"),
    d(430000, "湖南省", "湖南", "Hunan"),
    d(440000, "广东省", "广东", "Guangdong"),
    d(450000, "广西壮族自治区", "广西", "Guangxi"),
    d(460000, "海南省", "海南", "Hainan"),
    d(500000, "重庆市", "重庆", "Chongqing"),
    d(510000, "四川省", "四川", "Sichuan"),
    d(520000, "贵州省", "贵州", "Guizhou"),
    d(530000, "云南省", "云南", "Yunnan"),
    d(540000, "西藏自治区", "西藏", "Tibet"),
    d(610000, "陕西省", "陕西", "Shaanxi"),
    d(620000, "甘肃省", "甘肃", "Gansu"),
    d(630000, "青海省", "青海", "Qinghai"),
    d(640000, "宁夏回族自治区", "宁夏", "Ningxia"),
    d(650000, "新疆维吾尔自治区", "新疆", "Xinjiang"),
    d(710000, "台湾省", "台湾", "Taiwan"),
    d(810000, "香港特别行政区", "香港", "Hong Kong"),
    d(820000, "澳门特别行政区", "澳门", "Macao"),
    // The municipalities' city level.
    d(110100, "北京市", "北京", "Beijing"),
    d(120100, "天津市", "天津", "Tianjin"),
    d(310100, "上海市", "上海", "Shanghai"),
    d(500100, "重庆市", "重庆", "Chongqing"),
    // Jiangsu.
    d(320100, "南京市", "南京", "Nanjing"),
    d(320200, "无锡市", "无锡", "Wuxi"),
    d(320300, "徐州市", "徐州", "Xuzhou"),
    d(320400, "常州市", "常州", "Changzhou"),
    d(320500, "苏州市", "苏州", "Suzhou"),
    d(320600, "南通市", "南通", "Nantong"),
    d(320700, "连云港市", "连云港", "Lianyungang"),
    d(320800, "淮安市", "淮安", "Huai'an"),
    d(320900, "盐城市", "盐城", "Yancheng"),
    d(321000, "扬州市", "扬州", "Yangzhou"),
    d(321100, "镇江市", "镇江", "Zhenjiang"),
    d(321200, "泰州市", "泰州", "Taizhou"),
    d(321300, "宿迁市", "宿迁", "Suqian"),
    // Zhejiang.
    d(330100, "杭州市", "杭州", "Hangzhou"),
    d(330200, "宁波市", "宁波", "Ningbo"),
    d(330300, "温州市", "温州", "Wenzhou"),
    d(330400, "嘉兴市", "嘉兴", "Jiaxing"),
    d(330500, "湖州市", "湖州", "Huzhou"),
    d(330600, "绍兴市", "绍兴", "Shaoxing"),
    d(330700, "金华市", "金华", "Jinhua"),
    d(330800, "衢州市", "衢州", "Quzhou"),
    d(330900, "舟山市", "舟山", "Zhoushan"),
    d(331000, "台州市", "台州", "Taizhou"),
    d(331100, "丽水市", "丽水", "Lishui"),
    // Guangdong.
    d(440100, "广州市", "广州", "Guangzhou"),
    d(440200, "韶关市", "韶关", "Shaoguan"),
    d(440300, "深圳市", "深圳", "Shenzhen"),
    d(440400, "珠海市", "珠海", "Zhuhai"),
    d(440500, "汕头市", "汕头", "Shantou"),
    d(440600, "佛山市", "佛山", "Foshan"),
    d(440700, "江门市", "江门", "Jiangmen"),
    d(440800, "湛江市", "湛江", "Zhanjiang"),
    d(440900, "茂名市", "茂名", "Maoming"),
    d(441200, "肇庆市", "肇庆", "Zhaoqing"),
    d(441300, "惠州市", "惠州", "Huizhou"),
    d(441400, "梅州市", "梅州", "Meizhou"),
    d(441500, "汕尾市", "汕尾", "Shanwei"),
    d(441600, "河源市", "河源", "Heyuan"),
    d(441700, "阳江市", "阳江", "Yangjiang"),
    d(441800, "清远市", "清远", "Qingyuan"),
    d(441900, "东莞市", "东莞", "Dongguan"),
    d(442000, "中山市", "中山", "Zhongshan"),
    d(445100, "潮州市", "潮州", "Chaozhou"),
    d(445200, "揭阳市", "揭阳", "Jieyang"),
    d(445300, "云浮市", "云浮", "Yunfu"),
    // Provincial capitals (and a few large cities) elsewhere.
    d(130100, "石家庄市", "石家庄", "Shijiazhuang"),
    d(140100, "太原市", "太原", "Taiyuan"),
    d(150100, "呼和浩特市", "呼和浩特", "Hohhot"),
    d(210100, "沈阳市", "沈阳", "Shenyang"),
    d(210200, "大连市", "大连", "Dalian"),
    d(220100, "长春市", "长春", "Changchun"),
    d(230100, "哈尔滨市", "哈尔滨", "Harbin"),
    d(340100, "合肥市", "合肥", "Hefei"),
    d(350100, "福州市", "福州", "Fuzhou"),
    d(350200, "厦门市", "厦门", "Xiamen"),
    d(360100, "南昌市", "南昌", "Nanchang"),
    d(370100, "济南市", "济南", "Jinan"),
    d(370200, "青岛市", "青岛", "Qingdao"),
    d(410100, "郑州市", "郑州", "Zhengzhou"),
    d(420100, "武汉市", "武汉", "Wuhan"),
    d(430100, "长沙市", "长沙", "Changsha"),
    d(450100, "南宁市", "南宁", "Nanning"),
    d(460100, "海口市", "海口", "Haikou"),
    d(460200, "三亚市", "三亚", "Sanya"),
    d(510100, "成都市", "成都", "Chengdu"),
    d(520100, "贵阳市", "贵阳", "Guiyang"),
    d(530100, "昆明市", "昆明", "Kunming"),
    d(540100, "拉萨市", "拉萨", "Lhasa"),
    d(610100, "西安市", "西安", "Xi'an"),
    d(620100, "兰州市", "兰州", "Lanzhou"),
    d(630100, "西宁市", "西宁", "Xining"),
    d(640100, "银川市", "银川", "Yinchuan"),
    d(650100, "乌鲁木齐市", "乌鲁木齐", "Urumqi"),
];

/// The level of a code: province (`PP0000`), city (`PPCC00`) or district.
pub const fn province_of(code: u32) -> u32 {
    code / 10_000 * 10_000
}

pub const fn city_of(code: u32) -> u32 {
    code / 100 * 100
}

pub const fn is_province(code: u32) -> bool {
    code.is_multiple_of(10_000)
}

pub const fn is_city(code: u32) -> bool {
    !is_province(code) && code.is_multiple_of(100)
}

pub fn by_code(code: u32) -> Option<&'static Division> {
    DIVISIONS.iter().find(|d| d.code == code)
}

fn folded(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '\'' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn matches(d: &Division, text: &str) -> bool {
    let f = folded(text);
    !f.is_empty() && (d.name == text || d.short == text || folded(d.english) == f)
}

/// A province-level division from its code, full or short name, or pinyin/English name
/// (`上海`, `上海市`, `Shanghai`, `shanghai`, `310000`).
pub fn province(text: &str) -> Option<&'static Division> {
    let text = text.trim();
    if let Ok(code) = text.parse::<u32>() {
        return by_code(code).filter(|d| is_province(d.code));
    }
    DIVISIONS
        .iter()
        .find(|d| is_province(d.code) && matches(d, text))
}

/// A code for `text` inside the province `within`: a listed city by name, or any city or
/// district code of that province whose city (or, for districts of municipalities, province)
/// is listed. A municipality's own name is its city-level entry.
pub fn within_province(within: u32, text: &str) -> Option<u32> {
    let text = text.trim();
    let inside = |code: u32| province_of(code) == within && code != within;
    if let Ok(code) = text.parse::<u32>() {
        let known_parent = by_code(city_of(code)).is_some();
        return (text.len() == 6 && inside(code) && known_parent).then_some(code);
    }
    DIVISIONS
        .iter()
        .find(|d| inside(d.code) && matches(d, text))
        .map(|d| d.code)
}

/// The display names (province, city) of a code; a district shows its city.
pub fn names(code: u32) -> (Option<&'static str>, Option<&'static str>) {
    let province = by_code(province_of(code)).map(|d| d.name);
    let city = (!is_province(code))
        .then(|| by_code(city_of(code)))
        .flatten()
        .map(|d| d.name);
    (province, city)
}

/// Fills a region code from stored names (the backfill, and rows written before codes): the
/// city when it is known, else the province; none when the province is unknown.
pub fn code_from_names(province_name: &str, city_name: Option<&str>) -> Option<u32> {
    let p = province(province_name)?;
    Some(
        city_name
            .and_then(|c| within_province(p.code, c))
            .unwrap_or(p.code),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        let provinces = DIVISIONS.iter().filter(|d| is_province(d.code)).count();
        assert_eq!(provinces, 34);
        for d in DIVISIONS {
            assert!((110_000..=829_999).contains(&d.code), "{d:?}");
            assert!(
                by_code(province_of(d.code)).is_some(),
                "{d:?} has no province"
            );
            assert_eq!(
                DIVISIONS.iter().filter(|e| e.code == d.code).count(),
                1,
                "{d:?}"
            );
        }
    }

    #[test]
    fn common_spellings_resolve() {
        for s in [
            "上海",
            "上海市",
            "Shanghai",
            "shanghai",
            " SHANGHAI ",
            "310000",
        ] {
            assert_eq!(province(s).map(|d| d.code), Some(310_000), "{s}");
        }
        assert_eq!(province("Hong Kong").map(|d| d.code), Some(810_000));
        assert_eq!(province("hongkong").map(|d| d.code), Some(810_000));
        assert_eq!(province("上海滩"), None);
        assert_eq!(province("310100"), None, "a city code is not a province");
        assert_eq!(within_province(310_000, "上海市"), Some(310_100));
        assert_eq!(within_province(310_000, "310101"), Some(310_101));
        assert_eq!(within_province(440_000, "深圳"), Some(440_300));
        assert_eq!(within_province(440_000, "南京"), None);
        assert_eq!(within_province(440_000, "319999"), None);
        assert_eq!(code_from_names("上海市", Some("上海市")), Some(310_100));
        assert_eq!(code_from_names("广东省", Some("不知道")), Some(440_000));
        assert_eq!(names(310_101), (Some("上海市"), Some("上海市")));
        assert_eq!(names(440_000), (Some("广东省"), None));
    }
}
