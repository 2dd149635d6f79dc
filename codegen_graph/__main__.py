from codegen_graph.cli import main

main()
