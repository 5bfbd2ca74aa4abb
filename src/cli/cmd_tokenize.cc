// `swarmkv tokenize` and `swarmkv detokenize`: the tokenizer of a GGUF file (a model or a
// vocabulary-only file) from the command line.
//
//   swarmkv tokenize -m MODEL.gguf [--no-bos] [--parse-special] (TEXT | --file F)
//     prints the ids, space-separated, on one line
//   swarmkv detokenize -m MODEL.gguf ID...
//     prints the text (control tokens rendered with --render-special)
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "tokenizer/tokenizer.h"

namespace swarmkv::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  std::string file;
  bool no_bos = false;
  bool parse_special = false;
};

int RunTokenize(const TokenizeOptions& o) {
  std::string text = o.text;
  if (!o.file.empty()) {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) {
      std::cerr << "tokenize: cannot read '" << o.file << "'\n";
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto tok = Tokenizer::Load(o.model);
  if (!tok.ok()) {
    std::cerr << "tokenize: " << tok.status().ToString() << "\n";
    return 1;
  }
  const auto ids = (*tok)->Encode(text, {.add_special = !o.no_bos, .parse_special = o.parse_special});
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line += ' ';
    line += std::to_string(ids[i]);
  }
  std::cout << line << "\n";
  return 0;
}

CommandRegistrar tokenize_reg("tokenize", "Print the token ids of a text for a model's tokenizer",
                              [](CLI::App& app) -> CommandRun {
  auto o = std::make_shared<TokenizeOptions>();
  app.add_option("-m,--model", o->model, "GGUF file (model or vocabulary only)")->required();
  app.add_flag("--no-bos", o->no_bos, "do not add BOS/EOS even when the model asks for them");
  app.add_flag("--parse-special", o->parse_special, "match control tokens such as <|im_start|> in the text");
  auto* text = app.add_option("text", o->text, "the text to tokenize");
  auto* file = app.add_option("--file", o->file, "read the text from this file");
  text->excludes(file);
  file->excludes(text);
  return [o, text, file] {
    if (text->count() == 0 && file->count() == 0) {
      std::cerr << "tokenize: give the TEXT or --file F\n";
      return 2;
    }
    return RunTokenize(*o);
  };
});

struct DetokenizeOptions {
  std::string model;
  std::vector<std::string> ids;
  bool render_special = false;
};

int RunDetokenize(const DetokenizeOptions& o) {
  std::vector<int32_t> ids;
  for (const std::string& s : o.ids) {
    // Accept "1 2 3" as one argument too (the output of `tokenize`).
    std::istringstream in(s);
    std::string word;
    while (in >> word) {
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(word, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != word.size() || v < INT32_MIN || v > INT32_MAX) {
        std::cerr << "detokenize: '" << word << "' is not a token id\n";
        return 2;
      }
      ids.push_back(static_cast<int32_t>(v));
    }
  }
  auto tok = Tokenizer::Load(o.model);
  if (!tok.ok()) {
    std::cerr << "detokenize: " << tok.status().ToString() << "\n";
    return 1;
  }
  auto text = (*tok)->Decode(ids, {.render_special = o.render_special});
  if (!text.ok()) {
    std::cerr << "detokenize: " << text.status().ToString() << "\n";
    return 1;
  }
  std::cout << *text << "\n";
  return 0;
}

CommandRegistrar detokenize_reg("detokenize", "Print the text of token ids for a model's tokenizer",
                                [](CLI::App& app) -> CommandRun {
  auto o = std::make_shared<DetokenizeOptions>();
  app.add_option("-m,--model", o->model, "GGUF file (model or vocabulary only)")->required();
  app.add_flag("--render-special", o->render_special, "print control tokens (<s>, <|im_end|>) as text");
  app.add_option("ids", o->ids, "token ids")->required();
  return [o] { return RunDetokenize(*o); };
});

}  // namespace
}  // namespace swarmkv::cli
