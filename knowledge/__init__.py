"""The knowledge base: Mariia Hub's articles, retrieved and answered with their sources.

- :mod:`knowledge.markdown` / :mod:`knowledge.chunking`: articles (Markdown + front matter) and chunks;
- :mod:`knowledge.store` (the ``KnowledgeStore`` protocol), :mod:`knowledge.chroma_store`
  (Chroma embedded or server + BM25, fused), :mod:`knowledge.lexical`;
- :mod:`knowledge.guard`, :mod:`knowledge.composer`, :mod:`knowledge.llm`: the no-answer guard,
  extractive answers, grounded LLM answers with citations and fallback;
- :mod:`knowledge.service`: ``KnowledgeBase.ask`` as the bot and the CLI use it;
- :mod:`knowledge.repository`, :mod:`knowledge.editor`, :mod:`knowledge.golden`: versions,
  publishing behind the golden questions; :mod:`knowledge.gaps`: what clients asked in vain;
- :mod:`knowledge.settings`: ``KnowledgeSettings`` and ``build_knowledge``; :mod:`knowledge.cli`: ``kb_app``.
"""
