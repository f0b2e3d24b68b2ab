//! Chat templates: the text a server builds from a conversation before tokenizing it, which
//! is what it counts as prompt tokens. Rendered with `minijinja`, the Jinja dialect Hugging
//! Face templates are written in, so a model's own `chat_template` can be used as it ships.

use minijinja::{context, Environment};
use serde::Serialize;

/// Named templates for models whose files carry none, written after the models' published
/// templates (text content only), and the chat formats of servers that use their own instead.
/// Any other value is taken as a Jinja template itself.
const NAMED: &[(&str, &str)] = &[
    // Gemma's: a system message becomes the prefix of the first user turn.
    ("gemma", GEMMA),
    // llama-cpp-python's `--chat_format gemma`: system and tool messages are dropped, and a
    // message without text gets its role header only.
    ("llama-cpp-python/gemma", LLAMA_CPP_PYTHON_GEMMA),
    ("chatml", CHATML),
    ("llama3", LLAMA3),
];

const GEMMA: &str = r#"{{ bos_token }}{% if messages[0].role == 'system' %}{% set prefix = messages[0].content + '\n\n' %}{% set turns = messages[1:] %}{% else %}{% set prefix = '' %}{% set turns = messages %}{% endif %}{% for m in turns %}<start_of_turn>{{ 'model' if m.role == 'assistant' else m.role }}
{{ (prefix if loop.first else '') + m.content | trim }}<end_of_turn>
{% endfor %}{% if add_generation_prompt %}<start_of_turn>model
{% endif %}"#;

const LLAMA_CPP_PYTHON_GEMMA: &str = r#"{% for m in messages if m.role in ['user', 'assistant'] %}<start_of_turn>{{ 'model' if m.role == 'assistant' else 'user' }}
{% if m.content %}{{ m.content }}<end_of_turn>
{% endif %}{% endfor %}{% if add_generation_prompt %}<start_of_turn>model
{% endif %}"#;

const CHATML: &str = r#"{% for m in messages %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}"#;

const LLAMA3: &str = r#"{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>

{{ m.content | trim }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>

{% endif %}"#;

/// One message as a template sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Turn {
    /// `system`, `user`, `assistant`, `tool`.
    pub role: String,
    /// The message's text.
    pub content: String,
}

/// A checked chat template.
#[derive(Debug)]
pub struct Template {
    source: String,
    bos_token: String,
}

impl Template {
    /// A named template (`gemma`, `chatml`, `llama3`) or a Jinja template; checked by
    /// rendering a probe conversation, so a broken one is a configuration error.
    /// `bos_token` is the text of the model's beginning-of-sequence token, or empty where
    /// the tokenizer adds it itself.
    pub fn new(spec: &str, bos_token: &str) -> Result<Template, String> {
        let source = NAMED
            .iter()
            .find(|(name, _)| *name == spec)
            .map_or(spec, |(_, source)| *source)
            .to_string();
        if !source.contains("{{") && !source.contains("{%") {
            return Err(format!(
                "chat_template '{spec}' is neither a known name ({}) nor a Jinja template",
                NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ));
        }
        let t = Template {
            source,
            bos_token: bos_token.to_string(),
        };
        t.render(&[Turn {
            role: "user".into(),
            content: "probe".into(),
        }])
        .map_err(|e| format!("chat_template does not render: {e}"))?;
        Ok(t)
    }

    /// The prompt text for `turns`, ending with the assistant's opening.
    pub fn render(&self, turns: &[Turn]) -> Result<String, String> {
        let mut env = Environment::new();
        // As Hugging Face renders chat templates, which are written for these settings.
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| e.to_string())?;
        env.set_syntax(syntax);
        // Hugging Face templates call Python's string methods (`.strip()`, `.startswith()`)
        // and `raise_exception` to refuse conversations they cannot render.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    msg,
                ))
            },
        );
        env.add_template("chat", &self.source)
            .map_err(|e| e.to_string())?;
        let t = env.get_template("chat").map_err(|e| e.to_string())?;
        t.render(context! {
            messages => minijinja::Value::from(minijinja::value::Serde(turns)),
            add_generation_prompt => true,
            bos_token => self.bos_token.as_str(),
            eos_token => "",
        })
        .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: &str, content: &str) -> Turn {
        Turn {
            role: role.into(),
            content: content.into(),
        }
    }

    #[test]
    fn gemma_merges_the_system_message_into_the_first_user_turn() {
        let t = Template::new("gemma", "<bos>").unwrap();
        let text = t
            .render(&[
                turn("system", "Be brief."),
                turn("user", "Hi "),
                turn("assistant", "Hello."),
                turn("user", "Why?"),
            ])
            .unwrap();
        assert_eq!(
            text,
            "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n\
             <start_of_turn>model\nHello.<end_of_turn>\n\
             <start_of_turn>user\nWhy?<end_of_turn>\n<start_of_turn>model\n"
        );
    }

    #[test]
    fn llama_cpp_pythons_gemma_drops_system_messages() {
        let t = Template::new("llama-cpp-python/gemma", "").unwrap();
        let text = t
            .render(&[
                turn("system", "Be brief."),
                turn("user", "Hi"),
                turn("assistant", ""),
                turn("user", "Why?"),
            ])
            .unwrap();
        assert_eq!(
            text,
            "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n\
             <start_of_turn>user\nWhy?<end_of_turn>\n<start_of_turn>model\n"
        );
    }

    #[test]
    fn chatml_and_custom_templates_render() {
        let t = Template::new("chatml", "").unwrap();
        assert_eq!(
            t.render(&[turn("user", "a")]).unwrap(),
            "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n"
        );
        let custom = Template::new(
            "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}",
            "",
        )
        .unwrap();
        assert_eq!(custom.render(&[turn("user", "x")]).unwrap(), "[user]x");
    }

    #[test]
    fn hugging_face_templates_may_use_python_methods_and_refuse() {
        let t = Template::new(
            "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools') }}\
             {% endif %}{{ m.content.strip() }}|{% endfor %}",
            "",
        )
        .unwrap();
        assert_eq!(t.render(&[turn("user", "  a ")]).unwrap(), "a|");
        assert!(t
            .render(&[turn("tool", "x")])
            .unwrap_err()
            .contains("no tools"));
    }

    #[test]
    fn unknown_names_and_broken_templates_are_refused() {
        assert!(Template::new("gemmma", "")
            .unwrap_err()
            .contains("known name"));
        assert!(Template::new("{% for m in messages %}", "").is_err());
    }
}
