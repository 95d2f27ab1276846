// External packages of dsl/, pinned, in one place (a module imported from a URL gets no import map).
export {
  createToken,
  CstParser,
  EOF,
  generateCstDts,
  Lexer,
  tokenLabel,
  tokenMatcher,
} from "npm:chevrotain@11.0.3";
export type {
  CstNode,
  ICstVisitor,
  ILexingError,
  IParserErrorMessageProvider,
  IRecognitionException,
  IToken,
  TokenType,
} from "npm:chevrotain@11.0.3";
export { parseArgs } from "node:util";
