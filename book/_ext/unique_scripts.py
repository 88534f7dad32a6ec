"""Drop repeated inline scripts from each page.

sphinx-thebe (loaded by Jupyter Book even with thebe off) registers its inline configuration
script again each time the environment is read, and a repeated `const` declaration is a console
error in every browser ("Identifier 'THEBE_JS_URL' has already been declared"). Keep the first.
"""


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    # late: other extensions add scripts in this same event
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
