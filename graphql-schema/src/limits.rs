//! What a document may cost before async-graphql sees it.
//!
//! async-graphql's validation, depth and complexity visitors (and its recursion check) walk every
//! fragment spread into its fragment, so a document whose fragments each spread the next one
//! twice costs 2^n work in a 1 KB body, on the runtime's worker threads, before the execution
//! time limit can apply. [`check_query`] parses the text once and sizes it WITHOUT expanding
//! anything: each fragment's expanded size and depth are computed once (memoised over the
//! fragment graph, cycles refused), so its cost is linear in the body. A document that passes is
//! handed to the schema already parsed, and then costs validation at most `max_selections` nodes.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    Directive, ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Pos, Positioned, ServerError};
use async_graphql_value::Value;

use crate::SchemaLimits;
use crate::error::bad_input_error;

/// Introspection-only operations (all root fields `__schema`, `__type` or `__typename`) may nest
/// this deep: GraphiQL's standard introspection query is 13 deep, its `TypeRef` fragment going
/// seven `ofType` levels down. They cannot reach data, and the size cap still applies.
pub const INTROSPECTION_MAX_DEPTH: usize = 20;

/// Parses `query` and checks its fragment-expanded size and depth against `limits`.
/// Errors are client errors (BAD_USER_INPUT) whose messages never quote the query.
pub fn check_query(query: &str, limits: &SchemaLimits) -> Result<ExecutableDocument, ServerError> {
    let doc = async_graphql::parser::parse_query(query).map_err(parse_error)?;
    check_document(&doc, limits)?;
    Ok(doc)
}

/// A parser error without the parser's excerpt of the query (pest quotes the whole offending
/// line, which for a one-line body is the body itself).
fn parse_error(err: async_graphql::parser::Error) -> ServerError {
    let locations: Vec<Pos> = err.positions().collect();
    let message = match &err {
        async_graphql::parser::Error::Syntax { message, .. } => {
            // pest ends its report with "  = expected selection_set" or similar.
            let expected = message
                .lines()
                .rev()
                .find_map(|l| l.trim_start().strip_prefix("= "))
                .map(|e| e.replace('_', " "));
            match expected {
                Some(expected) => format!("syntax error: {expected}"),
                None => "syntax error".to_owned(),
            }
        }
        other => other.to_string(),
    };
    let mut error = bad_input_error("GRAPHQL_PARSE_FAILED", message);
    error.locations = locations;
    error
}

/// What one selection set holds on its own, fragment spreads not followed.
struct Shape<'a> {
    /// Fields, spreads, inline fragments, arguments, directives and argument values.
    nodes: u64,
    /// Deepest field nesting inside the set.
    depth: usize,
    /// Each spread, with the number of fields it sits under.
    spreads: Vec<(&'a str, usize)>,
    /// Whether every root-level field is an introspection field (`__…`).
    introspective_root: bool,
}

impl<'a> Shape<'a> {
    fn of(set: &'a SelectionSet) -> Self {
        let mut shape = Shape {
            nodes: 0,
            depth: 0,
            spreads: Vec::new(),
            introspective_root: true,
        };
        shape.add(set, 0);
        shape
    }

    /// Nesting is bounded by the parser (64 selection sets), so recursion is safe here.
    fn add(&mut self, set: &'a SelectionSet, level: usize) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if level == 0 && !field.name.node.starts_with("__") {
                        self.introspective_root = false;
                    }
                    self.depth = self.depth.max(level + 1);
                    self.nodes = self
                        .nodes
                        .saturating_add(1)
                        .saturating_add(arguments_nodes(&field.arguments))
                        .saturating_add(directives_nodes(&field.directives));
                    self.add(&field.selection_set.node, level + 1);
                }
                Selection::FragmentSpread(spread) => {
                    self.nodes = self
                        .nodes
                        .saturating_add(1)
                        .saturating_add(directives_nodes(&spread.node.directives));
                    self.spreads
                        .push((spread.node.fragment_name.node.as_str(), level));
                }
                Selection::InlineFragment(inline) => {
                    self.nodes = self
                        .nodes
                        .saturating_add(1)
                        .saturating_add(directives_nodes(&inline.node.directives));
                    self.add(&inline.node.selection_set.node, level);
                }
            }
        }
    }
}

fn arguments_nodes(arguments: &[(Positioned<Name>, Positioned<Value>)]) -> u64 {
    arguments.iter().fold(0u64, |n, (_, value)| {
        n.saturating_add(1).saturating_add(value_nodes(&value.node))
    })
}

fn directives_nodes(directives: &[Positioned<Directive>]) -> u64 {
    directives.iter().fold(0u64, |n, d| {
        n.saturating_add(1)
            .saturating_add(arguments_nodes(&d.node.arguments))
    })
}

/// Values are walked with a stack: a literal's nesting is not bounded by the parser's limit.
fn value_nodes(value: &Value) -> u64 {
    let mut nodes = 0u64;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        nodes = nodes.saturating_add(1);
        match v {
            Value::List(items) => stack.extend(items),
            Value::Object(fields) => stack.extend(fields.values()),
            _ => {}
        }
    }
    nodes
}

/// A fragment with its spreads followed: expanded node count and depth.
#[derive(Clone, Copy)]
struct Expanded {
    nodes: u64,
    depth: usize,
}

fn limit_error(message: String, pos: Option<Pos>) -> ServerError {
    located_error("QUERY_TOO_LARGE", message, pos)
}

fn located_error(reason: &'static str, message: String, pos: Option<Pos>) -> ServerError {
    let mut error = bad_input_error(reason, message);
    error.locations = pos.into_iter().collect();
    error
}

/// Sizes every fragment once, children before parents, with an explicit stack (a chain of
/// thousands of fragments fits in a 256 KiB body) and refuses cycles.
fn expand_fragments<'a>(
    shapes: &HashMap<&'a str, (Shape<'a>, Pos)>,
) -> Result<HashMap<&'a str, Expanded>, ServerError> {
    let mut done: HashMap<&'a str, Expanded> = HashMap::with_capacity(shapes.len());
    let mut on_path: HashSet<&'a str> = HashSet::new();
    for &start in shapes.keys() {
        if done.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(&'a str, usize)> = vec![(start, 0)];
        on_path.insert(start);
        while let Some((name, next)) = stack.last_mut() {
            let name: &'a str = name;
            let Some((shape, _)) = shapes.get(name) else {
                stack.pop();
                continue;
            };
            if let Some(&(target, _)) = shape.spreads.get(*next) {
                *next += 1;
                if done.contains_key(target) || !shapes.contains_key(target) {
                    // Unknown fragments are reported by validation; they add nothing here.
                    continue;
                }
                if !on_path.insert(target) {
                    let pos = shapes.get(target).map(|(_, pos)| *pos);
                    return Err(located_error(
                        "GRAPHQL_VALIDATION_FAILED",
                        format!("fragment {target} spreads itself"),
                        pos,
                    ));
                }
                stack.push((target, 0));
                continue;
            }
            let mut expanded = Expanded {
                nodes: shape.nodes,
                depth: shape.depth,
            };
            for &(target, level) in &shape.spreads {
                if let Some(child) = done.get(target) {
                    expanded.nodes = expanded.nodes.saturating_add(child.nodes);
                    expanded.depth = expanded.depth.max(level.saturating_add(child.depth));
                }
            }
            done.insert(name, expanded);
            on_path.remove(name);
            stack.pop();
        }
    }
    Ok(done)
}

/// Whether every root field of an operation, through its root-level spreads, is introspection.
fn introspection_only<'a>(shape: &Shape<'a>, shapes: &HashMap<&'a str, (Shape<'a>, Pos)>) -> bool {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut todo: Vec<&str> = Vec::new();
    let root_spreads = |s: &Shape<'a>, todo: &mut Vec<&'a str>| {
        todo.extend(s.spreads.iter().filter(|(_, l)| *l == 0).map(|(n, _)| *n));
    };
    if !shape.introspective_root {
        return false;
    }
    root_spreads(shape, &mut todo);
    while let Some(name) = todo.pop() {
        if !seen.insert(name) {
            continue;
        }
        if let Some((s, _)) = shapes.get(name) {
            if !s.introspective_root {
                return false;
            }
            root_spreads(s, &mut todo);
        }
    }
    true
}

/// What a document costs async-graphql's validation, measured without expanding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentCost {
    /// Nodes walked once fragments are expanded: every operation and every fragment
    /// definition, as async-graphql's complexity and depth pass walks them. Saturates.
    pub nodes: u64,
    /// Each operation's depth, and whether it selects introspection fields only.
    pub operations: Vec<(usize, bool, Pos)>,
}

/// Measures a document; fragment cycles are refused here, since they have no size.
pub fn document_cost(doc: &ExecutableDocument) -> Result<DocumentCost, ServerError> {
    let shapes: HashMap<&str, (Shape<'_>, Pos)> = doc
        .fragments
        .iter()
        .map(|(name, f)| {
            let f: &Positioned<FragmentDefinition> = f;
            (
                name.as_str(),
                (Shape::of(&f.node.selection_set.node), f.pos),
            )
        })
        .collect();
    let expanded = expand_fragments(&shapes)?;
    let mut nodes = expanded
        .values()
        .fold(0u64, |n, e| n.saturating_add(e.nodes));
    let mut operations = Vec::new();
    for (_, op) in doc.operations.iter() {
        let shape = Shape::of(&op.node.selection_set.node);
        let mut depth = shape.depth;
        nodes = nodes
            .saturating_add(shape.nodes)
            .saturating_add(directives_nodes(&op.node.directives));
        for &(target, level) in &shape.spreads {
            if let Some(child) = expanded.get(target) {
                nodes = nodes.saturating_add(child.nodes);
                depth = depth.max(level.saturating_add(child.depth));
            }
        }
        operations.push((depth, introspection_only(&shape, &shapes), op.pos));
    }
    Ok(DocumentCost { nodes, operations })
}

/// Refuses a document above the limits: size first, then each operation's depth (where
/// introspection is on, introspection-only operations are held to their own limit).
pub fn check_document(doc: &ExecutableDocument, limits: &SchemaLimits) -> Result<(), ServerError> {
    let cost = document_cost(doc)?;
    let cap = limits.max_selections;
    if cost.nodes > cap as u64 {
        return Err(limit_error(
            format!(
                "the query is too large: more than {cap} selections once fragments are expanded"
            ),
            None,
        ));
    }
    for (depth, introspection_only, pos) in cost.operations {
        let max_depth = if limits.introspection && introspection_only {
            INTROSPECTION_MAX_DEPTH.max(limits.max_depth)
        } else {
            limits.max_depth
        };
        if depth > max_depth {
            return Err(limit_error(
                format!("the query is nested too deep: {depth} levels, at most {max_depth}"),
                Some(pos),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn cost(query: &str) -> Result<DocumentCost, ServerError> {
        document_cost(&async_graphql::parser::parse_query(query).unwrap())
    }

    fn bomb(levels: usize) -> String {
        let mut query = String::from("{ ...G0 }");
        for i in 0..levels {
            query.push_str(&format!(
                " fragment G{i} on Query {{ a: __typename ...G{n} ...G{n} }}",
                n = i + 1
            ));
        }
        query + &format!(" fragment G{levels} on Query {{ __typename }}")
    }

    #[test]
    fn counts_what_validation_walks() {
        // Three fields, an argument with a two-item list (1 + 3 value nodes), one directive
        // with its argument (2 + 1).
        let c = cost("{ a(x: [1, 2]) b @skip(if: false) { c } }").unwrap();
        assert_eq!(c.nodes, 3 + 4 + 3);
        assert_eq!(c.operations[0].0, 2);
        // The fragment once as a definition, twice through the spreads (each spread a node).
        let c = cost("{ ...F ...F } fragment F on Query { a b { c } }").unwrap();
        assert_eq!(c.nodes, 3 + 2 * (1 + 3));
        assert_eq!(c.operations[0].0, 2);
        // Depth follows spreads under fields; inline fragments add none.
        let c = cost("{ a { ...F } } fragment F on T { ... on T { b { c } } }").unwrap();
        assert_eq!(c.operations[0].0, 3);
    }

    #[test]
    fn fragment_bombs_are_sized_without_expanding() {
        for levels in [23, 25, 40, 64, 1_000] {
            let doc = async_graphql::parser::parse_query(bomb(levels)).unwrap();
            let started = Instant::now();
            let c = document_cost(&doc).unwrap();
            // Linear: microseconds, where expanding would take 2^levels steps.
            assert!(started.elapsed() < Duration::from_millis(200), "{levels}");
            assert!(c.nodes > 1_000_000, "{levels}: {}", c.nodes);
            assert!(check_document(&doc, &SchemaLimits::default()).is_err());
        }
        // Saturates rather than overflowing.
        assert_eq!(cost(&bomb(200)).unwrap().nodes, u64::MAX);
    }

    #[test]
    fn cycles_are_refused_and_unknown_fragments_left_to_validation() {
        assert!(cost("{ ...A } fragment A on Q { a ...B } fragment B on Q { ...A }").is_err());
        assert!(cost("{ ...A } fragment A on Q { a { ...A } }").is_err());
        assert_eq!(cost("{ a ...Nope }").unwrap().nodes, 2);
    }

    #[test]
    fn a_long_fragment_chain_does_not_overflow_the_stack() {
        let mut query = String::from("{ ...F0 }");
        for i in 0..20_000 {
            query.push_str(&format!(" fragment F{i} on Q {{ ...F{} }}", i + 1));
        }
        query.push_str(" fragment F20000 on Q { a }");
        let c = cost(&query).unwrap();
        assert!(c.nodes > 20_000);
        // Run on a small stack, as a worker thread might have.
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || cost(&query).map(|c| c.nodes))
            .unwrap()
            .join()
            .unwrap()
            .unwrap();
    }

    #[test]
    fn introspection_has_its_own_depth_limit() {
        let nested = |root: &str, levels: usize| {
            let mut q = format!("{{ {root}");
            for i in 1..levels {
                q.push_str(&format!(" {{ f{i}"));
            }
            q + &" }".repeat(levels)
        };
        let check = |q: &str, introspection: bool| {
            let limits = SchemaLimits {
                introspection,
                ..Default::default()
            };
            check_document(&async_graphql::parser::parse_query(q).unwrap(), &limits).is_ok()
        };
        assert!(check(&nested("a", 10), true));
        assert!(!check(&nested("a", 11), true));
        assert!(check(&nested("__schema", 13), true));
        assert!(check(&nested("__schema", 20), true));
        assert!(!check(&nested("__schema", 21), true));
        // Off in production: introspection gets no allowance.
        assert!(!check(&nested("__schema", 13), false));
        // Introspection spread from a root-level fragment still counts as introspection...
        assert!(check(
            &format!("{{ ...R }} fragment R on Query {}", nested("__schema", 13)),
            true
        ));
        // ...but next to a data field it does not.
        assert!(!check(
            &format!("{{ a {}", &nested("__schema", 13)[1..]),
            true
        ));
    }

    /// Timings for choosing the cap: `cargo test -p graphql-schema --release -- --ignored
    /// --nocapture timings`.
    #[tokio::test]
    #[ignore]
    async fn timings() {
        use async_graphql::{EmptySubscription, Schema};
        let schema = crate::finish(
            Schema::build(
                crate::ConsumerQuery::default(),
                crate::ConsumerMutation::default(),
                EmptySubscription,
            ),
            None,
            &SchemaLimits::default(),
        );
        let big = |n: usize| {
            let fields: String = (0..n).map(|i| format!("a{i}: __typename ")).collect();
            format!("{{ {fields} }}")
        };
        let same = |n: usize| format!("{{ {} }}", "__typename ".repeat(n));
        let args = |n: usize| {
            let list: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            format!("{{ a: product(id: [{}]) {{ id }} }}", list.join(","))
        };
        for (name, q) in [
            ("bomb 7", bomb(7)),
            ("1999 aliases", big(1_999)),
            ("1999 same", same(1_999)),
            ("1990 list args", args(1_990)),
            ("40k aliases (refused)", big(40_000)),
        ] {
            let started = Instant::now();
            let checked = check_query(&q, &SchemaLimits::default());
            let check = started.elapsed();
            let ok = checked.is_ok();
            let started = Instant::now();
            let mut request = async_graphql::Request::new(q.clone());
            if let Ok(doc) = checked {
                request.set_parsed_query(doc);
            }
            let response = if ok {
                Some(schema.execute(request).await)
            } else {
                None
            };
            println!(
                "{name}: {} bytes, check {check:?} ({ok}), validate+execute {:?}, errors {:?}",
                q.len(),
                started.elapsed(),
                response.map(|r| r
                    .errors
                    .into_iter()
                    .take(1)
                    .map(|e| e.message)
                    .collect::<Vec<_>>())
            );
        }
    }

    #[test]
    fn parser_errors_do_not_quote_the_query() {
        let limits = SchemaLimits::default();
        let braces = format!("{}{}", "{".repeat(5_000), "}".repeat(5_000));
        let err = check_query(&braces, &limits).unwrap_err();
        assert!(err.message.len() < 100, "{}", err.message);
        assert!(!err.message.contains("{{"), "{}", err.message);
        let err = check_query("{ a ", &limits).unwrap_err();
        assert!(err.message.starts_with("syntax error"), "{}", err.message);
        assert_eq!(err.locations.len(), 1);
    }
}
