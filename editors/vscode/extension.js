// A thin client: VS Code starts `promptkit lsp` and talks to it over stdio. Everything else is the server's.
"use strict";
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function settings() {
  const c = vscode.workspace.getConfiguration("promptkit");
  return {
    promptkit: {
      profile: c.get("profile"), dialect: c.get("dialect"), select: c.get("select"), ignore: c.get("ignore"),
      embeddings: c.get("embeddings"), loras: c.get("loras"), debounce_ms: c.get("debounceMs"),
    },
  };
}

function activate(context) {
  const config = vscode.workspace.getConfiguration("promptkit");
  const [command, ...args] = config.get("command");
  const documentSelector = [
    { scheme: "file", language: "prompt" },
    { scheme: "file", pattern: "**/styles.csv" },
    { scheme: "file", pattern: "**/wildcards/**/*.txt" },
    ...config.get("captionFiles").map((pattern) => ({ scheme: "file", pattern })),
  ];
  client = new LanguageClient("promptkit", "promptkit",
    { command, args, transport: TransportKind.stdio },
    { documentSelector, initializationOptions: settings(), synchronize: { configurationSection: "promptkit" } });
  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration((event) => {
    if (event.affectsConfiguration("promptkit") && client) {
      client.sendNotification("workspace/didChangeConfiguration", { settings: settings() });
    }
  }));
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
