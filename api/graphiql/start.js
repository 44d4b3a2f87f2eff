// GraphiQL with the schema explorer, against the endpoint that served this page.
(function () {
  "use strict";
  var EXAMPLE = [
    "# gongshi 公示: public credit information. Ctrl-Enter runs a query;",
    "# the book icon opens the documentation, the compass the explorer.",
    "{",
    "  penalties(first: 5) {",
    "    totalCount",
    "    edges { node { decisionDocNo subject { name } decisionOn content } }",
    "  }",
    "}",
    "",
  ].join("\n");
  var url = window.location.href.split("?")[0];
  var fetcher = GraphiQL.createFetcher({ url: url });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: EXAMPLE,
      plugins: [explorer],
      defaultEditorToolsVisibility: true,
    }),
  );
})();
