//! The allergen vocabulary: common cosmetic allergen groups, each with its Chinese and English
//! name and the INCI names that belong to it. Members pick allergies from it by code (free-text
//! INCI names stay accepted); product warnings match through it, so an allergy `fragrance`
//! warns on a product listing PARFUM or LINALOOL.
//!
//! A stored allergy is either a group code (lower case, as below) or an upper-cased INCI name.

/// One allergen group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllergenGroup {
    /// Stable code, stored as the member's allergy (lower case, so it never reads as an INCI name).
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// Other words members type for the group (matched case-insensitively, like the names).
    pub aliases: &'static [&'static str],
    /// The INCI names of the group, upper case, as product ingredient lists spell them.
    pub inci_names: &'static [&'static str],
}

/// The vocabulary, in the order a picker shows it.
pub const ALLERGEN_GROUPS: &[AllergenGroup] = &[
    AllergenGroup {
        code: "fragrance",
        name_zh: "香精",
        name_en: "Fragrance",
        aliases: &["香料", "香精香料", "perfume", "parfum (fragrance)"],
        inci_names: &[
            "PARFUM",
            "FRAGRANCE",
            "AROMA",
            "LINALOOL",
            "LIMONENE",
            "CITRONELLOL",
            "GERANIOL",
            "CITRAL",
            "EUGENOL",
            "ISOEUGENOL",
            "COUMARIN",
            "HEXYL CINNAMAL",
            "AMYL CINNAMAL",
            "CINNAMAL",
            "CINNAMYL ALCOHOL",
            "BENZYL ALCOHOL",
            "BENZYL SALICYLATE",
            "BENZYL BENZOATE",
            "BENZYL CINNAMATE",
            "FARNESOL",
            "HYDROXYCITRONELLAL",
            "ALPHA-ISOMETHYL IONONE",
            "ANISE ALCOHOL",
            "EVERNIA PRUNASTRI EXTRACT",
        ],
    },
    AllergenGroup {
        code: "alcohol",
        name_zh: "酒精",
        name_en: "Alcohol (ethanol)",
        aliases: &["乙醇", "ethanol"],
        inci_names: &[
            "ALCOHOL DENAT.",
            "ALCOHOL",
            "ETHANOL",
            "SD ALCOHOL 40",
            "SD ALCOHOL 40-B",
        ],
    },
    AllergenGroup {
        code: "parabens",
        name_zh: "尼泊金酯",
        name_en: "Parabens",
        aliases: &["羟苯酯类", "paraben"],
        inci_names: &[
            "METHYLPARABEN",
            "ETHYLPARABEN",
            "PROPYLPARABEN",
            "BUTYLPARABEN",
            "ISOBUTYLPARABEN",
            "ISOPROPYLPARABEN",
        ],
    },
    AllergenGroup {
        code: "isothiazolinones",
        name_zh: "甲基异噻唑啉酮",
        name_en: "Methylisothiazolinone (MI/MCI)",
        aliases: &["异噻唑啉酮", "mit", "isothiazolinone"],
        inci_names: &[
            "METHYLISOTHIAZOLINONE",
            "METHYLCHLOROISOTHIAZOLINONE",
            "BENZISOTHIAZOLINONE",
            "OCTYLISOTHIAZOLINONE",
        ],
    },
    AllergenGroup {
        code: "formaldehyde_releasers",
        name_zh: "甲醛及甲醛释放体",
        name_en: "Formaldehyde and formaldehyde releasers",
        aliases: &["甲醛", "formaldehyde"],
        inci_names: &[
            "FORMALDEHYDE",
            "DMDM HYDANTOIN",
            "IMIDAZOLIDINYL UREA",
            "DIAZOLIDINYL UREA",
            "QUATERNIUM-15",
            "2-BROMO-2-NITROPROPANE-1,3-DIOL",
            "SODIUM HYDROXYMETHYLGLYCINATE",
        ],
    },
    AllergenGroup {
        code: "lanolin",
        name_zh: "羊毛脂",
        name_en: "Lanolin",
        aliases: &["wool wax"],
        inci_names: &[
            "LANOLIN",
            "LANOLIN ALCOHOL",
            "LANOLIN OIL",
            "LANOLIN ACID",
            "HYDROGENATED LANOLIN",
            "ACETYLATED LANOLIN",
        ],
    },
    AllergenGroup {
        code: "essential_oils",
        name_zh: "植物精油",
        name_en: "Essential oils",
        aliases: &["精油", "essential oil"],
        inci_names: &[
            "LAVANDULA ANGUSTIFOLIA OIL",
            "MELALEUCA ALTERNIFOLIA LEAF OIL",
            "CITRUS AURANTIUM DULCIS PEEL OIL",
            "CITRUS LIMON PEEL OIL",
            "MENTHA PIPERITA OIL",
            "EUCALYPTUS GLOBULUS LEAF OIL",
            "ROSMARINUS OFFICINALIS LEAF OIL",
            "CANANGA ODORATA FLOWER OIL",
            "ROSA DAMASCENA FLOWER OIL",
            "PELARGONIUM GRAVEOLENS OIL",
        ],
    },
    AllergenGroup {
        code: "salicylic_acid",
        name_zh: "水杨酸",
        name_en: "Salicylic acid (BHA)",
        aliases: &["水杨酸类", "salicylates"],
        inci_names: &[
            "SALICYLIC ACID",
            "SODIUM SALICYLATE",
            "BETAINE SALICYLATE",
            "CAPRYLOYL SALICYLIC ACID",
        ],
    },
    AllergenGroup {
        code: "propylene_glycol",
        name_zh: "丙二醇",
        name_en: "Propylene glycol",
        aliases: &["pg"],
        inci_names: &["PROPYLENE GLYCOL"],
    },
    AllergenGroup {
        code: "chemical_uv_filters",
        name_zh: "化学防晒剂",
        name_en: "Chemical UV filters",
        aliases: &["化学防晒", "sunscreen filters"],
        inci_names: &[
            "BENZOPHENONE-3",
            "OCTOCRYLENE",
            "ETHYLHEXYL METHOXYCINNAMATE",
            "HOMOSALATE",
            "BUTYL METHOXYDIBENZOYLMETHANE",
            "ETHYLHEXYL SALICYLATE",
        ],
    },
];

/// Single-spaced and trimmed, for comparing what people type.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The group a word names (its code, Chinese or English name, or an alias; any case).
pub fn group_named(word: &str) -> Option<&'static AllergenGroup> {
    let word = squeeze(word).to_lowercase();
    ALLERGEN_GROUPS.iter().find(|g| {
        g.code == word
            || g.name_zh == word
            || g.name_en.to_lowercase() == word
            || g.aliases.iter().any(|a| a.to_lowercase() == word)
    })
}

/// How an allergy is stored: a group's code when it names one, else the upper-cased,
/// single-spaced INCI name.
pub fn normalise(word: &str) -> String {
    match group_named(word) {
        Some(group) => group.code.to_owned(),
        None => squeeze(word).to_uppercase(),
    }
}

/// Whether an ingredient (INCI, any case and spacing) is covered by an allergy as stored.
pub fn covers(allergy: &str, ingredient: &str) -> bool {
    let ingredient = squeeze(ingredient).to_uppercase();
    match group_named(allergy) {
        Some(group) => group.inci_names.contains(&ingredient.as_str()),
        None => squeeze(allergy).to_uppercase() == ingredient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_language_and_case_become_the_code() {
        for word in ["fragrance", "Fragrance", " 香精 ", "FRAGRANCE", "香料"] {
            assert_eq!(normalise(word), "fragrance", "{word}");
        }
        assert_eq!(normalise("酒精"), "alcohol");
        assert_eq!(normalise("尼泊金酯"), "parabens");
        assert_eq!(normalise("  methyl   paraben "), "METHYL PARABEN");
        assert_eq!(normalise("Linalool"), "LINALOOL");
    }

    #[test]
    fn groups_cover_their_inci_names_and_plain_names_only_themselves() {
        assert!(covers("fragrance", "PARFUM"));
        assert!(covers("fragrance", "linalool"));
        assert!(!covers("fragrance", "AQUA"));
        assert!(covers("alcohol", "ALCOHOL DENAT."));
        assert!(covers("LINALOOL", "LINALOOL"));
        assert!(!covers("LINALOOL", "PARFUM"));
        // Allergies stored before the vocabulary (upper-cased names) still reach their group.
        assert!(covers("FRAGRANCE", "LINALOOL"));
    }

    #[test]
    fn codes_are_unique_lower_case_and_inci_names_upper_case() {
        let mut codes: Vec<&str> = ALLERGEN_GROUPS.iter().map(|g| g.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALLERGEN_GROUPS.len());
        for g in ALLERGEN_GROUPS {
            assert_eq!(g.code, g.code.to_lowercase());
            assert!(g.code.len() <= 64);
            assert!(!g.inci_names.is_empty());
            for inci in g.inci_names {
                assert_eq!(*inci, squeeze(inci).to_uppercase());
            }
            // Every name reaches its own group.
            for name in [g.code, g.name_zh, g.name_en].iter().chain(g.aliases) {
                assert_eq!(group_named(name).map(|x| x.code), Some(g.code), "{name}");
            }
        }
    }
}
